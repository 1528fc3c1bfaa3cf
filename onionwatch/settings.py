"""Runtime settings: the one place that reads the environment (always when called, never at
import), so nothing below onionwatch/ does; the CLI passes what a package needs."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import platformdirs

# $ONIONWATCH_CONFIGS (where the data files live) is read by configs.root(), at call time.


def home() -> Path:
    """Data directory (lab state, local Elasticsearch data, keys, crawl queues)."""
    path = Path(os.environ.get("ONIONWATCH_HOME") or platformdirs.user_data_dir("onionwatch"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def lab_dir() -> Path:
    """Where `onionwatch lab` keeps its Tor network, state and drop-in folder."""
    value = os.environ.get("ONIONWATCH_LAB_DIR")
    return Path(value) if value else home() / "lab"


def _key_from_env_or_file(env: str, filename: str) -> bytes:
    value = os.environ.get(env)
    if value:
        return value.encode()
    path = home() / filename
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def pii_key() -> bytes:
    """HMAC key for PII hashes. Must be the same across crawls so hashes stay comparable."""
    return _key_from_env_or_file("ONIONWATCH_PII_KEY", "pii.key")


@dataclass(frozen=True)
class ESConfig:
    url: str | None
    username: str | None
    password: str | None
    api_key: str | None
    ca_certs: str | None


def es_config() -> ESConfig:
    """A configured cluster, or url=None meaning: start the embedded local server."""
    return ESConfig(
        url=os.environ.get("ONIONWATCH_ES_URL") or None,
        username=os.environ.get("ONIONWATCH_ES_USER") or None,
        password=os.environ.get("ONIONWATCH_ES_PASSWORD") or None,
        api_key=os.environ.get("ONIONWATCH_ES_API_KEY") or None,
        ca_certs=os.environ.get("ONIONWATCH_ES_CA_CERTS") or None,
    )


def snapshot_key() -> bytes:
    """Key that encrypts stored raw pages (they hold personal data in clear)."""
    return _key_from_env_or_file("ONIONWATCH_SNAPSHOT_KEY", "snapshot.key")


def index_prefix() -> str:
    return os.environ.get("ONIONWATCH_INDEX_PREFIX", "onionwatch")


def web_secret_key() -> bytes:
    """Signs the web app's session cookies."""
    return _key_from_env_or_file("ONIONWATCH_WEB_SECRET", "web-secret.key")


def sites_dirs() -> list[Path]:
    """Where the crawler's site profiles are: $ONIONWATCH_SITES (directories separated by
    os.pathsep), else the shipped configs/sites."""
    value = os.environ.get("ONIONWATCH_SITES")
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p]
    import configs

    return [configs.path("sites")]


def site_secrets(names: list[str]) -> dict[str, str]:
    """The values of the environment variables site profiles take their credentials and
    cookies from (ONIONWATCH_SITE_<NAME>_USER, _PASSWORD, _COOKIE, or the names a profile
    gives); unset or empty ones are left out. Never logged."""
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def tor_socks() -> list[str]:
    """Tor SocksPort(s), host:port, when neither --socks nor a running lab gives them."""
    return [p for p in os.environ.get("ONIONWATCH_TOR_SOCKS", "127.0.0.1:9050").split(",") if p]


def tor_control() -> list[str]:
    """Tor ControlPort(s), in the same order as tor_socks()."""
    return [p for p in os.environ.get("ONIONWATCH_TOR_CONTROL", "127.0.0.1:9051").split(",") if p]
