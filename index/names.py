"""Index, alias and template names: one place, so every caller agrees on the layout.

Layout (prefix defaults to ``onionwatch``):

- ``<prefix>-<kind>`` is the alias every read goes through (and every write to an
  unpartitioned kind: it marks the write index).
- ``<prefix>-<kind>-v<N>`` is the concrete index of mapping version N; partitioned
  kinds add ``-YYYY.MM`` (month of the document's time field).
- Kinds: ``pages`` (monthly), ``services``, ``snapshots``; reserved for later features:
  ``checks`` (liveness time series, monthly) and ``alerts`` (rule watermarks, fired alerts).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timezone

DEFAULT_PREFIX = "onionwatch"
PAGES, SERVICES, SNAPSHOTS, CHECKS, ALERTS = "pages", "services", "snapshots", "checks", "alerts"

_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,60}$")


@dataclass(frozen=True)
class Names:
    """Names under one prefix; tests use a unique prefix each so they never collide."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PREFIX_RE.match(self.prefix):
            raise ValueError(f"invalid index prefix {self.prefix!r} (lower case, digits, _ . -)")

    def alias(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def index(self, kind: str, version: int, partition: str | None = None) -> str:
        base = f"{self.prefix}-{kind}-v{version}"
        return f"{base}-{partition}" if partition else base

    def template(self, kind: str) -> str:
        return f"{self.prefix}-{kind}"

    def component(self, name: str) -> str:
        """Component template name for a versioned component such as ``analysis.v1``."""
        return f"{self.prefix}-{name.replace('.', '-')}"

    def version_pattern(self, kind: str, version: int) -> list[str]:
        """Index patterns the version-N template applies to (plain and partitioned)."""
        base = self.index(kind, version)
        return [base, f"{base}-*"]

    def parse(self, index: str) -> tuple[str, int, str | None] | None:
        """(kind, version, partition) of one of our concrete indices, else None."""
        m = re.fullmatch(re.escape(self.prefix) + r"-([a-z_]+)-v(\d+)(?:-(\d{4}\.\d{2}))?", index)
        if not m:
            return None
        return m.group(1), int(m.group(2)), m.group(3)

    @property
    def pages(self) -> str:
        return self.alias(PAGES)

    @property
    def services(self) -> str:
        return self.alias(SERVICES)

    @property
    def snapshots(self) -> str:
        return self.alias(SNAPSHOTS)

    @property
    def checks(self) -> str:
        return self.alias(CHECKS)

    @property
    def alerts(self) -> str:
        return self.alias(ALERTS)


def parse_time(value: str) -> datetime:
    """RFC 3339 / ISO 8601 (``Z`` allowed) to an aware UTC datetime; naive means UTC."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


@functools.lru_cache(maxsize=8192)  # a batch's records share a few timestamps, each asked several times
def month_partition(timestamp: str) -> str:
    """Partition suffix ``YYYY.MM`` of a document time, in UTC."""
    return parse_time(timestamp).strftime("%Y.%m")
