"""Old path of the lab's sites: see onionwatch/lab/__init__.py (use `lab`)."""

from lab import (  # noqa: F401
    ROLES, Lab, SiteSpec, bulk_sites, decoys, default_configs_dir, expected_pages, fake_onion, load_sites,
    serve_sites, typo_onion,
)
