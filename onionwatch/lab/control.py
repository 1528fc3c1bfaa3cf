"""`onionwatch lab up|status|down`: the private Tor network plus the sample sites,
each site published as its own v3 onion. `up` returns only when every lab onion
answers an HTTP request through the lab client's SOCKS port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from onionwatch import settings
from onionwatch.lab.network import TorNetwork, free_ports
from procs import pid_alive


def lab_dir() -> Path:
    return Path(os.environ.get("ONIONWATCH_LAB_DIR") or settings.home() / "lab")


def _state_path(root: Path) -> Path:
    return root / "lab.json"


def read_state(root: Path | None = None) -> dict[str, Any] | None:
    path = _state_path(root or lab_dir())
    return json.loads(path.read_text()) if path.exists() else None


def is_up(state: dict[str, Any] | None) -> bool:
    return bool(state) and all(pid_alive(p) for p in state.get("pids", [])) and bool(state.get("pids"))


def up(
    root: Path | None = None,
    clients: int = 1,
    bulk: tuple[int, int] | None = None,
    timeout: float = 120.0,
    log=lambda msg: None,  # noqa: ANN001
) -> dict[str, Any]:
    """Start (or reuse) the lab; returns its state (sites, onions, SOCKS/control ports)."""
    root = Path(root or lab_dir())
    state = read_state(root)
    if is_up(state) and state.get("clients") == clients and state.get("bulk") == (list(bulk) if bulk else None):
        return state
    if state:
        down(root)
    from onionwatch.lab.sites import bulk_sites, load_sites

    started = time.time()
    net = TorNetwork(root / "tor", clients=clients)
    log("starting tor: 3 authorities, 2 relays, %d client(s), 1 onion-service node" % clients)
    try:
        net.start(timeout=timeout)
        log(f"tor bootstrapped in {time.time() - started:.1f}s")
        specs = load_sites()
        if bulk:
            specs += bulk_sites(bulk[0], bulk[1])
        ports = dict(zip((s.name for s in specs), free_ports(len(specs))))
        with ThreadPoolExecutor(max_workers=8) as pool:
            onions = dict(
                zip(ports, pool.map(lambda name: net.publish(name, ports[name], timeout=timeout), ports))
            )
        log(f"{len(onions)} onion services published in {time.time() - started:.1f}s")
        site_cfg = {
            "configs_dir": str(settings.CONFIGS / "lab"),
            "dropin_dir": str(root / "dropin"),
            "bulk": {"onions": bulk[0], "pages": bulk[1]} if bulk else None,
            "sites": {name: {"port": ports[name], "onion": onions[name]} for name in ports},
        }
        (root / "sites.json").write_text(json.dumps(site_cfg, indent=2))
        sites_log = open(root / "sites.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "onionwatch.lab.sites", "--config", str(root / "sites.json")],
            stdout=subprocess.PIPE, stderr=sites_log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        line = proc.stdout.readline()  # {"ports": ...} once listening
        if not line:
            raise RuntimeError(f"lab site server failed to start; see {root / 'sites.log'}")
        client = net.clients()[0]
        state = {
            "root": str(root),
            "clients": clients,
            "bulk": list(bulk) if bulk else None,
            "socks": [f"127.0.0.1:{c.socksport}" for c in net.clients()],
            "control": [f"127.0.0.1:{c.controlport}" for c in net.clients()],
            "dropin": str(root / "dropin"),
            "service_control": f"127.0.0.1:{net.state.by_kind('service')[0].controlport}",
            "sites": [
                {"name": s.name, "role": s.role, "title": s.title, "lang": s.lang,
                 "onion": onions[s.name], "port": ports[s.name]}
                for s in specs
            ],
            "pids": [n.pid for n in net.state.nodes] + [proc.pid],
            "sites_pid": proc.pid,
            "started_at": started,
        }
        _state_path(root).write_text(json.dumps(state, indent=2))
        wait_reachable(state, [s["onion"] for s in state["sites"] if s["role"] != "bulk"][:50] or [], client.socksport, timeout)
        state["ready_seconds"] = round(time.time() - started, 1)
        _state_path(root).write_text(json.dumps(state, indent=2))
        log(f"lab ready in {state['ready_seconds']}s: {len(state['sites'])} onion sites")
        return state
    except BaseException:
        net.stop()
        raise


def wait_reachable(state: dict[str, Any], onions: list[str], socks_port: int, timeout: float) -> None:
    """Every onion must answer over Tor: until its descriptor is on the HSDirs a fetch
    fails at once with SOCKS 0x04/0xF0, so poll."""
    deadline = time.time() + timeout
    pending = set(onions)

    def probe(onion: str) -> bool:
        proxy = f"socks5h://probe:{onion[:8]}@127.0.0.1:{socks_port}"
        try:
            r = requests.get(f"http://{onion}/", proxies={"http": proxy}, timeout=20)
            return r.status_code < 500
        except requests.RequestException:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        while pending:
            ok = dict(zip(pending, pool.map(probe, list(pending))))
            pending = {o for o, good in ok.items() if not good}
            if pending and time.time() > deadline:
                names = sorted(s["name"] for s in state["sites"] if s["onion"] in pending)
                raise TimeoutError(f"lab onions still unreachable after {timeout}s: {names}")
            if pending:
                time.sleep(1)


def stop_site(name: str, root: Path | None = None) -> str:
    """Take one lab onion off the network (its descriptor is withdrawn)."""
    root = Path(root or lab_dir())
    net = TorNetwork(root / "tor")
    net.unpublish(name)
    return net.state.onions[name]


def start_site(name: str, root: Path | None = None) -> str:
    root = Path(root or lab_dir())
    net = TorNetwork(root / "tor")
    return net.publish(name, net.state.targets[name])


def down(root: Path | None = None) -> None:
    root = Path(root or lab_dir())
    state = read_state(root)
    net = TorNetwork(root / "tor")
    net.stop()
    if state and state.get("sites_pid") and pid_alive(state["sites_pid"]):
        try:
            os.killpg(state["sites_pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    if _state_path(root).exists():
        _state_path(root).unlink()


def status(root: Path | None = None) -> dict[str, Any]:
    state = read_state(root) or {}
    return {
        "up": is_up(state),
        "socks": state.get("socks", []),
        "control": state.get("control", []),
        "sites": state.get("sites", []),
        "ready_seconds": state.get("ready_seconds"),
        "root": state.get("root", str(root or lab_dir())),
    }
