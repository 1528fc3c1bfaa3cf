"""Running the lab: `up`, `status`, `down`, and taking one site off the network and back.

The private Tor network (lab.network) plus the sample sites (lab.server, in its own process),
each site published as its own v3 onion. `up` returns only when every lab onion answers an
HTTP request through the lab client's SOCKS port. Every function takes the lab's directory
(`root`): the CLI passes its configured one, tests and benches their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import requests

from lab.network import TorNetwork
from lab.specs import bulk_sites, default_configs_dir, load_sites
from procs import free_ports, pid_alive

STATE_FILE = "lab.json"
SITES_CONFIG = "sites.json"
DROPIN = "dropin"


def _state_path(root: Path) -> Path:
    return Path(root) / STATE_FILE


def read_state(root: Path) -> dict[str, Any] | None:
    """What `up` recorded for the lab at `root`, or None if none was started there."""
    path = _state_path(root)
    return json.loads(path.read_text()) if path.exists() else None


def is_up(state: dict[str, Any] | None) -> bool:
    return bool(state) and all(pid_alive(p) for p in state.get("pids", [])) and bool(state.get("pids"))


def up(
    root: Path,
    clients: int = 1,
    bulk: tuple[int, int] | None = None,
    timeout: float = 120.0,
    log: Callable[[str], None] = lambda msg: None,
    options: tuple[str, ...] = (),
    latency: object = None,
    dead: int = 0,
    relays: int = 2,
) -> dict[str, Any]:
    """Start (or reuse) the lab at `root`; returns its state (sites, onions, SOCKS/control
    ports, drop-in folder). `options` (e.g. ("walls",)) adds those groups of sites (lab.options)."""
    from lab.dead import dead_onions
    from lab.latency import Latency

    root = Path(root)
    lat = Latency.parse(latency)  # per-site response delay (lab.latency), off by default
    state = read_state(root)
    if (is_up(state) and state.get("clients") == clients and state.get("bulk") == (list(bulk) if bulk else None)
            and state.get("latency") == (lat.to_json() if lat else None) and len(state.get("dead") or []) == dead
            and state.get("relays", 2) == relays):
        return _with_options(root, state, options, timeout, log)
    if state:
        down(root)

    started = time.time()
    net = TorNetwork(root / "tor", relays=relays, clients=clients)  # relays: besides the 3 authorities
    log("starting tor: 3 authorities, %d relays, %d client(s), 1 onion-service node" % (relays, clients))
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
        dead_list = dead_onions(dead)
        dropin = root / DROPIN
        dropin.mkdir(parents=True, exist_ok=True)  # ready for files before anything is dropped in
        site_cfg = {
            "configs_dir": str(default_configs_dir()),
            "dropin_dir": str(dropin),
            "bulk": {"onions": bulk[0], "pages": bulk[1]} if bulk else None,
            "latency": lat.to_json() if lat else None,
            "dead": dead_list,  # listed by the directory among the live ones
            "sites": {name: {"port": ports[name], "onion": onions[name]} for name in ports},
        }
        (root / SITES_CONFIG).write_text(json.dumps(site_cfg, indent=2))
        sites_log = open(root / "sites.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.server", "--config", str(root / SITES_CONFIG)],
            stdout=subprocess.PIPE, stderr=sites_log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        line = proc.stdout.readline()  # {"ports": ...} once listening
        if not line:
            raise RuntimeError(f"lab site server failed to start; see {root / 'sites.log'}")
        client = net.clients()[0]
        state = {
            "root": str(root),
            "clients": clients,
            "relays": relays,
            "bulk": list(bulk) if bulk else None,
            "socks": [f"127.0.0.1:{c.socksport}" for c in net.clients()],
            "control": [f"127.0.0.1:{c.controlport}" for c in net.clients()],
            "dropin": str(dropin),
            "service_control": f"127.0.0.1:{net.state.by_kind('service')[0].controlport}",
            "sites": [
                {"name": s.name, "role": s.role, "title": s.title, "lang": s.lang,
                 "onion": onions[s.name], "port": ports[s.name]}
                for s in specs
            ],
            "pids": [n.pid for n in net.state.nodes] + [proc.pid],
            "sites_pid": proc.pid,
            "latency": lat.to_json() if lat else None,
            "dead": dead_list,  # checksum-valid v3 addresses nobody publishes (lab.dead)
            "started_at": started,
        }
        _state_path(root).write_text(json.dumps(state, indent=2))
        wait_reachable(state, [s["onion"] for s in state["sites"] if s["role"] != "bulk"][:50] or [], client.socksport, timeout)
        state["ready_seconds"] = round(time.time() - started, 1)
        _state_path(root).write_text(json.dumps(state, indent=2))
        log(f"lab ready in {state['ready_seconds']}s: {len(state['sites'])} onion sites")
        return _with_options(root, state, options, timeout, log)
    except BaseException:
        net.stop()
        raise


def _with_options(root: Path, state: dict[str, Any], options: tuple[str, ...], timeout: float,
                  log: Callable[[str], None]) -> dict[str, Any]:
    from lab import options as lab_options

    for option in options:
        state = lab_options.add(root, option, timeout=timeout, log=log)
    return state


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


def _known_site(net: TorNetwork, name: str) -> None:
    if name not in net.state.onions:
        known = ", ".join(sorted(net.state.onions)) or "none (is the lab up?)"
        raise KeyError(f"no lab site named {name!r}; known: {known}")


def stop_site(name: str, root: Path) -> str:
    """Take one lab onion off the network (its descriptor is withdrawn); returns its address.
    Its site server keeps running, so `start_site` brings it back at the same address."""
    net = TorNetwork(Path(root) / "tor")
    _known_site(net, name)
    net.unpublish(name)
    return net.state.onions[name]


def start_site(name: str, root: Path) -> str:
    """Publish a withdrawn lab onion again (same key, same address); returns its address."""
    net = TorNetwork(Path(root) / "tor")
    _known_site(net, name)
    return net.publish(name, net.state.targets[name])


def down(root: Path) -> None:
    """Stop every process of the lab at `root` (tor nodes and the site server)."""
    root = Path(root)
    state = read_state(root)
    net = TorNetwork(root / "tor")
    net.stop()
    for pid in [(state or {}).get("sites_pid")] + [o["pid"] for o in ((state or {}).get("options") or {}).values()]:
        if pid and pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    if _state_path(root).exists():
        _state_path(root).unlink()


def status(root: Path) -> dict[str, Any]:
    """Whether the lab at `root` runs, its ports, its sites (each with ``withdrawn``), the
    names withdrawn by `stop_site`, and the drop-in folder the running site server reads."""
    root = Path(root)
    state = read_state(root) or {}
    running = is_up(state)
    network = root / "tor" / "network.json"
    withdrawn = TorNetwork(root / "tor").state.withdrawn if running and network.exists() else []
    return {
        "up": running,
        "root": state.get("root", str(root)),
        "socks": state.get("socks", []),
        "control": state.get("control", []),
        "dropin": state.get("dropin") if running else None,
        "withdrawn": sorted(withdrawn),
        "sites": [dict(s, withdrawn=s["name"] in withdrawn) for s in state.get("sites", [])],
        "ready_seconds": state.get("ready_seconds"),
        "options": sorted(state.get("options") or {}),
        "profiles": state.get("profiles") if running else None,
        "latency": state.get("latency"),
        "dead": {"count": len(state.get("dead") or []), "onions": state.get("dead") or []},  # site profiles for option sites (lab.options)
    }
