"""Site profiles for a crawl: found where settings say (ONIONWATCH_SITES, else configs/sites),
checked with the credentials the environment holds, and handed to the crawler as settings —
so a bad profile or a missing credential stops `onionwatch crawl` before any request."""

from __future__ import annotations

from typing import Any

import click

from crawler.profiles import ProfileError, Secret, load_profiles
from onionwatch import settings


def crawl_settings() -> dict[str, Any]:
    """ONIONWATCH_SITES and ONIONWATCH_SITE_SECRETS for the crawler; a UsageError (exit 2)
    naming the file and the problem when a profile cannot be used."""
    dirs = settings.sites_dirs()
    try:
        profiles = load_profiles(dirs)
        secrets = {name: Secret(value) for name, value in settings.site_secrets(profiles.secret_names()).items()}
        profiles.resolve(secrets)
        for p in profiles.profiles:
            profiles.cookies(p, secrets)
    except ProfileError as exc:
        raise click.UsageError(f"site profile: {exc}") from exc
    return {"ONIONWATCH_SITES": [str(d) for d in dirs], "ONIONWATCH_SITE_SECRETS": secrets}
