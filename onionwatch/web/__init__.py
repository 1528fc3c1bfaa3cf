"""The investigators' web app (`onionwatch serve`): search, page records, services, stats,
alerts, and a JSON API, over the same index/ functions the CLI uses."""

from __future__ import annotations

from pathlib import Path

import yaml
from flask import Flask

from onionwatch.web.app import CSP, create_app
from onionwatch.web.records import Backend
from onionwatch.web.tokens import TokenStore

TOKENS_FILE = "web-tokens.json"

__all__ = ["CSP", "Backend", "TokenStore", "app_from_settings", "create_app", "entity_labels", "token_store"]


def token_store() -> TokenStore:
    """The installation's API tokens (hashes only), in the data directory."""
    from onionwatch import settings

    return TokenStore(settings.home() / TOKENS_FILE)


def entity_labels(config_dir: Path) -> list[str]:
    """Entity types the tagger emits (for the search form's suggestions)."""
    try:
        return sorted((yaml.safe_load((config_dir / "tagger" / "pii.yaml").read_text()) or {}).get("labels") or {})
    except (OSError, yaml.YAMLError, AttributeError):
        return []


def app_from_settings() -> Flask:
    """The app wired to this installation's index, keys and tokens."""
    import configs
    import index
    from onionwatch import es_server, settings
    from onionwatch.web.records import installation_alert_config

    es = es_server.client()
    names = es_server.index_names()
    index.setup(es, names, es_server.index_config_dir())
    backend = Backend(es=es, names=names, snapshot_key=settings.snapshot_key,
                      entity_labels=entity_labels(configs.root()), alert_config=installation_alert_config,
                      capacity_note=lambda: es_server.capacity_note(es, names))
    secret = settings.web_secret_key()
    from evidence import AuditLog

    return create_app(backend, token_store(), secret, audit=AuditLog(settings.home() / "audit"))
