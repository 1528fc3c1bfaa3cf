"""Old path of lab.control with this installation's lab dir as the default root: see
onionwatch/lab/__init__.py (use `lab.control` with `settings.lab_dir()`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab import control
from lab.control import is_up, wait_reachable  # noqa: F401
from onionwatch import settings


def lab_dir() -> Path:
    return settings.lab_dir()


def read_state(root: Path | None = None) -> dict[str, Any] | None:
    return control.read_state(root or settings.lab_dir())


def up(root: Path | None = None, **kw: Any) -> dict[str, Any]:
    return control.up(root or settings.lab_dir(), **kw)


def down(root: Path | None = None) -> None:
    control.down(root or settings.lab_dir())


def status(root: Path | None = None) -> dict[str, Any]:
    return control.status(root or settings.lab_dir())


def stop_site(name: str, root: Path | None = None) -> str:
    return control.stop_site(name, root or settings.lab_dir())


def start_site(name: str, root: Path | None = None) -> str:
    return control.start_site(name, root or settings.lab_dir())
