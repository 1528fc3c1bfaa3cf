"""The lab: sample onion sites with known ground truth, served on loopback and published as
v3 onions on a private Tor network, so crawls, liveness checks and alerts are tested
against real Tor without ever leaving 127.0.0.0/8.

One job per module: `specs` (site specs loaded from configs/lab), `content` (what a site's
collections list), `truth` (pages a correct crawler fetches, decoys it must refuse),
`onions` (made-up addresses), `responses` (hostile bodies: bombs, drips, huge pages, raw
bytes), `routing` (URL → response for one site), `server` (the HTTP servers: `Lab`,
`serve_sites`, `python -m lab.server`), `network` (the Tor network), `control` (up, down,
status, stop-site, start-site). Imports nothing of onionwatch/: the lab's directory and
other installation settings are passed in.
"""

from typing import Any

from lab.onions import fake_onion, typo_onion
from lab.specs import ROLES, Case, SiteSpec, bulk_sites, default_configs_dir, load_sites
from lab.truth import decoys, expected_pages

__all__ = [
    "ROLES", "Case", "Lab", "SiteSpec", "bulk_sites", "decoys", "default_configs_dir", "expected_pages",
    "fake_onion", "load_sites", "serve_sites", "typo_onion",
]


def __getattr__(name: str) -> Any:
    """`Lab` and `serve_sites` load lab.server on first use, so `python -m lab.server` does not
    find its own module already imported by this package."""
    if name in ("Lab", "serve_sites"):
        from lab import server

        return getattr(server, name)
    raise AttributeError(f"module 'lab' has no attribute {name!r}")
