"""The lab for tests: a real private Tor network with the sample onion sites, started
once per session inside the test run's network namespace (only `lo`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def isolated_netns() -> bool:
    """True when the only network interface is loopback (the tests' `unshare -n`)."""
    import socket

    # if_nameindex() asks the kernel for this namespace's interfaces (/sys may be the host's)
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def require_isolation() -> None:
    if not isolated_netns() and os.environ.get("ONIONWATCH_TEST_ALLOW_HOST_NET") != "1":
        pytest.fail(
            "lab tests must run in a network namespace with only loopback: "
            "use the README's test command (scripts/test.sh), or set ONIONWATCH_TEST_ALLOW_HOST_NET=1"
        )


@pytest.fixture(scope="session")
def lab(tmp_path_factory):  # noqa: ANN001, ANN201
    """Lab state: {"sites": [{name, role, onion, ...}], "socks": [...], "control": [...]}."""
    require_isolation()
    from lab import control

    root = tmp_path_factory.mktemp("lab")
    state = control.up(root=root, timeout=180)
    state["root"] = str(root)
    yield state
    control.down(root)


def lab_env(lab_state: dict, home: Path) -> dict:
    """Environment for an `onionwatch` subprocess that should use this lab."""
    return dict(
        os.environ,
        ONIONWATCH_HOME=str(home),
        ONIONWATCH_LAB_DIR=lab_state["root"],
        PYTHONUNBUFFERED="1",
    )


def run_onionwatch(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "onionwatch", *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=timeout,
    )


def site(lab_state: dict, role: str) -> dict:
    """The site of this role; where several share it (Dream Bazaar is a market too), the one
    named after the role."""
    sites = [s for s in lab_state["sites"] if s["role"] == role]
    return next((s for s in sites if s["name"] == role), sites[0])


def wait_lab_reachable(lab_state: dict, roles: list[str] | None = None, timeout: float = 120) -> float:
    """Wait until the lab onions of these roles (all by default) answer through the lab's
    Tor client; seconds waited. A module that starts late in a long session meets a lab whose
    descriptors other tests re-published (walls, stop/start-site): its own crawl should not
    be the first to find out. Raises TimeoutError naming the sites that never answered."""
    from lab import control

    chosen = [s["onion"] for s in lab_state["sites"] if roles is None or s["role"] in roles]
    started = time.monotonic()
    control.wait_reachable(lab_state, chosen, int(lab_state["socks"][0].rsplit(":", 1)[1]), timeout)
    return time.monotonic() - started


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
