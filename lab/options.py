"""Lab options: groups of extra sites (configs/lab/sites/*.yaml with ``option: NAME``) that a
running lab takes on and gives back — their own site server process, their own onions on the
same private Tor network — so the default lab stays lean and a test that needs, say, the
walled sites adds them to the session's lab instead of starting a second Tor network.

``onionwatch lab up --with walls`` (control.up(options=...)) calls ``add``. A site of an
option may ship a site-profile template (configs/lab/profiles/<profile>.yaml.j2, named by its
``data.gate.profile``): ``add`` writes it with the site's onion into ``<lab dir>/sites/`` and
the site's status entry says which environment variables carry its credentials.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jinja2
import yaml

from lab.network import TorNetwork
from lab.specs import SiteSpec, default_configs_dir, load_sites
from procs import free_ports, pid_alive

PROFILES_DIR = "sites"


def _write_state(root: Path, state: dict[str, Any]) -> None:
    from lab.control import STATE_FILE

    tmp = root / f".{STATE_FILE}.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(root / STATE_FILE)


def option_sites(option: str) -> list[SiteSpec]:
    specs = [s for s in load_sites(options=(option,)) if s.option == option]
    if not specs:
        known = sorted({s.option for s in load_sites(options=tuple(_all_options())) if s.option})
        raise KeyError(f"no lab option {option!r}; known: {', '.join(known) or 'none'}")
    return specs


def _all_options() -> set[str]:
    root = default_configs_dir() / "sites"
    found = set()
    for p in root.glob("*.yaml"):
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if raw.get("option"):
            found.add(str(raw["option"]))
    return found


def site_extra(spec: SiteSpec, onion: str, port: int, root: Path) -> dict[str, Any]:
    """What `lab status --json` tells about a walled site beyond name, role and onion: the
    profile written for it and the environment variables with its credentials, the captcha's
    answer (as a human reads it off the image), the seized site's drop-in switch."""
    from crawler.profiles import env_stem

    gate = spec.data.get("gate") or {}
    extra: dict[str, Any] = {}
    profile = gate.get("profile")
    if profile:
        template = default_configs_dir() / "profiles" / f"{profile}.yaml.j2"
        text = jinja2.Template(template.read_text(encoding="utf-8")).render(onion=onion, root=str(root))
        out = root / PROFILES_DIR / f"{profile}.yaml"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        name = (yaml.safe_load(text) or {}).get("name") or profile
        login = ((yaml.safe_load(text) or {}).get("auth") or {}).get("login") or {}
        creds = login.get("credentials") or {}
        extra["profile"] = str(out)
        extra["credentials"] = {
            "user_env": creds.get("user_env") or f"{env_stem(name)}_USER",
            "password_env": creds.get("password_env") or f"{env_stem(name)}_PASSWORD",
            "register": gate.get("register_path", "/register"), "login": gate.get("login_path", "/login"),
        }
    if spec.role == "forum-captcha":
        extra["captcha"] = {"form": "/captcha", "field": "captcha_code", "answer": gate.get("answer"),
                            "cookie": gate.get("cookie", "fsess")}
    if spec.role == "seized":
        extra["state_file"] = f"{spec.name}/state.yaml in the drop-in folder: `seized: false` serves the site as it was"
    extra["local_url"] = f"http://127.0.0.1:{port}/"
    return extra


def add(root: Path, option: str, *, timeout: float = 120.0,
        log: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Add an option's sites to the running lab at `root`; returns the new state."""
    from lab.control import is_up, read_state, wait_reachable

    if option in ("apps", "app") or option.startswith("app-"):  # real web apps: lab.apps
        from lab import apps

        return apps.add(root, [option], timeout=max(timeout, 180.0), log=log)
    root = Path(root)
    state = read_state(root)
    if not is_up(state):
        raise RuntimeError(f"the lab at {root} is not up")
    assert state is not None
    if option in (state.get("options") or {}):
        return state
    specs = option_sites(option)
    net = TorNetwork(root / "tor")
    ports = dict(zip((s.name for s in specs), free_ports(len(specs))))
    with ThreadPoolExecutor(max_workers=8) as pool:
        onions = dict(zip(ports, pool.map(lambda name: net.publish(name, ports[name], timeout=timeout), ports)))
    cfg = {
        "configs_dir": str(default_configs_dir()), "dropin_dir": state.get("dropin"), "options": [option],
        "onions": {s["name"]: s["onion"] for s in state["sites"]},
        "sites": {name: {"port": ports[name], "onion": onions[name]} for name in ports},
    }
    cfg_path = root / f"sites-{option}.json"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    with open(root / f"sites-{option}.log", "ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "lab.server", "--config", str(cfg_path)],
                                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    if not proc.stdout.readline():
        raise RuntimeError(f"lab option {option}: site server failed to start; see {root / f'sites-{option}.log'}")
    entries = [{"name": s.name, "role": s.role, "title": s.title, "lang": s.lang, "onion": onions[s.name],
                "port": ports[s.name], "option": option, **site_extra(s, onions[s.name], ports[s.name], root)}
               for s in specs]
    state = read_state(root) or state
    state["sites"] = [s for s in state["sites"] if s["name"] not in ports] + entries
    state["pids"] = list(state.get("pids") or []) + [proc.pid]
    state.setdefault("options", {})[option] = {"pid": proc.pid, "sites": list(ports)}
    state["profiles"] = str(root / PROFILES_DIR)
    _write_state(root, state)
    client = int(state["socks"][0].rsplit(":", 1)[1])
    wait_reachable(state, list(onions.values()), client, timeout)
    log(f"lab option {option}: {len(entries)} sites published")
    return state


def remove(root: Path, option: str) -> dict[str, Any] | None:
    """Take an option's sites off the running lab again (onions withdrawn, server stopped)."""
    from lab.control import read_state

    root = Path(root)
    state = read_state(root)
    if not state or option not in (state.get("options") or {}):
        return state
    info = state["options"].pop(option)
    stop_pid(info["pid"])
    net = TorNetwork(root / "tor")
    for name in info["sites"]:
        if name in net.state.onions and name not in net.state.withdrawn:
            try:
                net.unpublish(name)
            except Exception as exc:  # noqa: BLE001 — the service node may be gone already
                print(f"lab option {option}: could not withdraw {name}: {exc}", file=sys.stderr)
    net.state = TorNetwork(root / "tor").state  # re-read after unpublish() saved it
    for name in info["sites"]:
        net.state.onions.pop(name, None)
        net.state.targets.pop(name, None)
        if name in net.state.withdrawn:
            net.state.withdrawn.remove(name)
    net._save()
    state["sites"] = [s for s in state["sites"] if s["name"] not in info["sites"]]
    state["pids"] = [p for p in state.get("pids") or [] if p != info["pid"]]
    if not state["options"]:
        state.pop("options")
        state.pop("profiles", None)
    _write_state(root, state)
    return state


def stop_pid(pid: int) -> None:
    if pid and pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
