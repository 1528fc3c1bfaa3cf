"""onionwatch's data — index templates, tagger lexicons and cues, lab sites, alert rules,
the onion blocklist — shipped as package data so an installed wheel has it too.

`root()` is the one place that finds it: ``$ONIONWATCH_CONFIGS`` when set (read at call
time, never at import), else this directory. This package holds no logic beyond that, so
the libraries (enrich/, index/) may use it to find their default data.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def root() -> Path:
    """The configs directory in force: $ONIONWATCH_CONFIGS, else the shipped one."""
    override = os.environ.get("ONIONWATCH_CONFIGS")
    return Path(override).resolve() if override else HERE


def path(*parts: str) -> Path:
    """A file or folder inside the configs directory in force, e.g. path("index")."""
    return root().joinpath(*parts)
