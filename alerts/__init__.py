"""Alerts: rules over newly indexed pages, evaluated against the index and delivered to
webhooks, email, JSON Lines files or stdout — each listing at most once per rule.

`rules` (loading and storing rules and channels), `evaluate` (watermarks, matching, dedup,
delivery runs) and `channels` (senders and redaction). Alert state is kept in Elasticsearch
by index.alerts. Nothing here reads onionwatch's settings: the caller passes the configs
dir and the home directory.
"""

from alerts.channels import Deliverer, plain_text, redact_channel
from alerts.evaluate import deliver, fingerprint, payload, run, scan
from alerts.listings import split_identifiers
from alerts.rules import TARGETS, AlertConfig, AlertConfigError, Rule, add_rule, load_config, local_config_path

__all__ = [
    "AlertConfig", "AlertConfigError", "Deliverer", "Rule", "add_rule", "deliver", "fingerprint", "load_config",
    "local_config_path", "payload", "plain_text", "redact_channel", "run", "scan", "split_identifiers", "TARGETS",
]
