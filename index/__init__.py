"""Everything that talks to Elasticsearch: layout, templates, writes, search, stats.

Takes a connected ``Elasticsearch`` client and a ``Names`` (index prefix) from the caller;
imports nothing else of ours.
"""

from index.names import Names, month_partition
from index.query import build_pii_lookup, build_search, decode_after, encode_after, filters
from index.schema import MigrationError, migrate, setup, status
from index.search import get_page, get_service, pii_lookup, search
from index.snapshots import SnapshotError, get_snapshot
from index.stats import counts, services
from index.writer import Failure, FlushResult, PageWriter, page_id

__all__ = [
    "Failure", "FlushResult", "MigrationError", "Names", "PageWriter", "SnapshotError",
    "build_pii_lookup", "build_search", "counts", "decode_after", "encode_after", "filters",
    "get_page", "get_service", "get_snapshot", "migrate", "month_partition", "page_id",
    "pii_lookup", "search", "services", "setup", "status",
]

# Liveness checks, onion counts over time, alert state (issue 5).
from index import alerts  # noqa: E402
from index.checks import check_history, known_services, latest_checks, onion_stats, write_checks  # noqa: E402

__all__ += ["alerts", "check_history", "known_services", "latest_checks", "onion_stats", "write_checks"]
