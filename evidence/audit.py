"""The audit trail: who looked up personal data, exported evidence, or asked for clear PII.

A journal of its own (same chain, same verification), kind ``audit``. Entries name the actor
(token name or OS user), the action, what was asked (hashes, never a personal value), and how
many results came back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from journal import Break, Entry, Journal

ACTIONS = ("pii_lookup", "evidence_export", "include_pii", "stix_export", "misp_export", "audit_export",
           "snapshot_download")
_FORBIDDEN_KEYS = ("value", "pii_value", "clear")


class AuditLog:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.journal = Journal(Path(root))

    def record(self, action: str, *, who: str, what: dict[str, Any], results: int | None = None) -> Entry:
        """Append one audit entry (fsynced). ``what`` must not carry a personal value."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")
        if any(k in what for k in _FORBIDDEN_KEYS):
            raise ValueError("audit entries hold hashes, never personal values")
        return self.journal.append("audit", {"action": action, "who": who, "what": what, "results": results})

    def entries(self, from_seq: int = 1) -> Iterator[Entry]:
        return self.journal.iterate(from_seq)

    def verify(self) -> Break | None:
        return self.journal.verify()
