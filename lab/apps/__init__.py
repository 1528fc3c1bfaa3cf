"""Real third-party web applications as lab onions (issue 13, item 7): software onion services
actually run — pinnwand (pastebin), django-oscar (shop) — installed from PyPI into a venv of
their own, seeded with the lab's content and published on the lab's private Tor network.

A lab option, never in the lean default: ``onionwatch lab up --apps pinnwand,oscar`` (or
``--with app-pinnwand``), also added to a lab that is already up. Each app:

- is defined by ``configs/lab/apps/<name>.yaml`` (pinned requirements, runner, seed sources,
  the app's own settings, the crawl profile for it);
- is installed once per requirements list into ``<venvs>/<name>`` (``install``; default
  ``var/lab-apps`` in the source tree, ``python -m lab.apps install`` from the setup script);
- runs as ``<venv>/bin/python lab/apps/run/<runner> --config app.json``, bound to 127.0.0.1 on
  a free port, its data (SQLite, media) and its own request log under ``<lab dir>/apps/<name>``;
- gets role ``app-<name>`` in ``lab status --json`` with its request log, its seeded item
  URLs (``truth``) and the crawl profile written for its onion (``<lab dir>/sites``).

Content is built here, not in the runners (lab.apps.content): pastes and products come from
configs/lab, paste slugs are derived from their file names, so the shop can link to a paste on
the pastebin's onion before either server starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from lab.apps import content
from lab.network import TorNetwork
from lab.specs import default_configs_dir
from procs import free_ports, pid_alive

RUN_DIR = Path(__file__).resolve().parent / "run"
PHP_LOG = re.compile(r"\[\d{3}\]: ([A-Z]+) (\S+)")
PROFILES_DIR = "sites"  # same folder as lab.options writes its profiles to
OPTION_PREFIX = "app-"


class AppError(RuntimeError):
    """An app that cannot be installed or started; the message says which and where to look."""


@dataclass(frozen=True)
class AppSpec:
    name: str
    role: str
    title: str
    lang: str
    description: str
    requirements: tuple[str, ...]  # pip: pinned requirement lines; apt: Debian package names
    runner: str
    source: Path
    installer: str = "pip"  # pip (a venv of its own) or apt (Debian's packages, the runner on our interpreter)
    prepare: bool = False
    seed: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        if self.installer == "apt":
            return _dpkg_version(self.requirements[0]) or ""
        return next((r.split("==", 1)[1] for r in self.requirements
                     if r.split("==", 1)[0].lower().replace("_", "-") in (self.name, f"django-{self.name}")), "")


def apps_dir(configs_dir: Path | None = None) -> Path:
    return Path(configs_dir or default_configs_dir()) / "apps"


def load_apps(configs_dir: Path | None = None) -> dict[str, AppSpec]:
    """Every app defined in configs/lab/apps/*.yaml, by name."""
    out = {}
    for path in sorted(apps_dir(configs_dir).glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = str(raw["name"])
        if raw.get("role") != f"{OPTION_PREFIX}{name}":
            raise ValueError(f"{path}: role must be {OPTION_PREFIX}{name}")
        if not (RUN_DIR / str(raw["runner"])).is_file():
            raise ValueError(f"{path}: runner {raw['runner']} is not in {RUN_DIR}")
        out[name] = AppSpec(
            name=name, role=raw["role"], title=str(raw["title"]), lang=str(raw.get("lang", "en")),
            description=str(raw.get("description", "")), requirements=tuple(raw["requirements"]),
            runner=str(raw["runner"]), source=path, prepare=bool(raw.get("prepare")),
            installer=str(raw.get("installer", "pip")),
            seed=dict(raw.get("seed") or {}), settings=dict(raw.get("settings") or {}),
            profile=dict(raw.get("profile") or {}))
    return out


def resolve(names: Iterable[str], configs_dir: Path | None = None) -> list[AppSpec]:
    """Apps by name (``app-`` prefix optional; ``all`` or ``apps`` = every app), in a stable order."""
    known = load_apps(configs_dir)
    wanted: list[str] = []
    for n in (part for name in names for part in name.split(",")):  # "app-pinnwand,oscar" too
        n = n.strip().removeprefix(OPTION_PREFIX)
        if not n:
            continue
        if n in ("all", "apps", "s"):
            wanted += list(known)
        elif n not in known:
            raise KeyError(f"no lab app {n!r}; known: {', '.join(sorted(known))}")
        else:
            wanted.append(n)
    return [known[n] for n in dict.fromkeys(wanted)]


# -- install ------------------------------------------------------------------------------------

def default_venvs_dir() -> Path:
    """``var/lab-apps`` in the source tree (git-ignored), where the setup script installs."""
    return Path(__file__).resolve().parents[2] / "var" / "lab-apps"


def _install_key(spec: AppSpec) -> str:
    # the template database depends on the migrations (requirements) and the project's settings only
    project = sorted(RUN_DIR.glob(f"{Path(spec.runner).stem}_site/settings.py")) if spec.prepare else []
    text = "\n".join([f"python {sys.version_info[0]}.{sys.version_info[1]}", *sorted(spec.requirements),
                      f"prepare {spec.prepare}", *(p.read_text(encoding="utf-8") for p in project)])
    return hashlib.sha256(text.encode()).hexdigest()


def venv_of(spec: AppSpec, venvs_dir: Path | None = None) -> Path:
    return Path(venvs_dir or default_venvs_dir()) / spec.name


def _dpkg_version(package: str) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}|${Version}", package], capture_output=True,
                             text=True, check=False).stdout
    except OSError:
        return None
    status, _, version = out.partition("|")
    return version if status.endswith("install ok installed") else None


def is_installed(spec: AppSpec, venvs_dir: Path | None = None) -> bool:
    if spec.installer == "apt":
        return all(_dpkg_version(p) for p in spec.requirements)
    marker = venv_of(spec, venvs_dir) / "onionwatch-lab-app.json"
    try:
        return json.loads(marker.read_text())["key"] == _install_key(spec)
    except (OSError, ValueError, KeyError):
        return False


def _base_python() -> str:
    """The interpreter our own venv was made from (a venv made from a venv's python works too)."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return str(base) if base.exists() else sys.executable


def install(spec: AppSpec, venvs_dir: Path | None = None, *, force: bool = False,
            log: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Make the app's venv with its pinned requirements (pip, from the package registry) and,
    for apps that need it, its template database; a no-op when the same list is installed."""
    venv = venv_of(spec, venvs_dir)
    if is_installed(spec, venvs_dir) and not force:
        return {"app": spec.name, "installed": False, "seconds": 0.0, "venv": str(venv)}
    started = time.time()
    if spec.installer == "apt":
        return _apt_install(spec, started, log)
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log(f"lab app {spec.name}: installing {len(spec.requirements)} pinned packages into {venv}")
    _run([_base_python(), "-m", "venv", str(venv)], spec, "venv")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "install", "--no-input", *spec.requirements], spec, "pip install")
    pip_seconds = time.time() - started
    if spec.prepare:
        log(f"lab app {spec.name}: preparing its template database")
        work = venv / "template"
        work.mkdir(exist_ok=True)
        cfg = {"port": 0, "database": str(work / "db.sqlite3"), "media_root": str(work / "media"),
               "request_log": os.devnull, "secret_key": secrets.token_hex(16), **spec.settings}
        (work / "prepare.json").write_text(json.dumps(cfg))
        _run([str(venv / "bin" / "python"), str(RUN_DIR / spec.runner), "--config", str(work / "prepare.json"),
              "--prepare"], spec, "prepare")
    took = time.time() - started
    (venv / "onionwatch-lab-app.json").write_text(json.dumps(
        {"key": _install_key(spec), "requirements": list(spec.requirements), "seconds": round(took, 1),
         "pip_seconds": round(pip_seconds, 1)}))
    log(f"lab app {spec.name}: installed in {took:.0f}s (pip {pip_seconds:.0f}s)")
    return {"app": spec.name, "installed": True, "seconds": round(took, 1), "pip_seconds": round(pip_seconds, 1),
            "venv": str(venv)}


def _apt_install(spec: AppSpec, started: float, log: Callable[[str], None]) -> dict[str, Any]:
    """Debian's packages (root; their services are not started: the lab runs its own server)."""
    if os.geteuid() != 0:
        raise AppError(f"lab app {spec.name}: install Debian's {' '.join(spec.requirements)} as root "
                       "(scripts/setup_lab_apps.sh)")
    log(f"lab app {spec.name}: apt-get install {' '.join(spec.requirements)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "install", "-y", "-qq", "--no-install-recommends", *spec.requirements],):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:  # stale package lists: update once and try again
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, check=False)
            _run(cmd, spec, "apt-get install")
    took = time.time() - started
    log(f"lab app {spec.name}: installed in {took:.0f}s")
    return {"app": spec.name, "installed": True, "seconds": round(took, 1), "packages": list(spec.requirements)}


def python_of(spec: AppSpec, venvs_dir: Path | None = None) -> str:
    """The interpreter that runs the app's runner: its venv's, or ours for a Debian-packaged app
    (whose runner uses the standard library only)."""
    return sys.executable if spec.installer == "apt" else str(venv_of(spec, venvs_dir) / "bin" / "python")


def _run(cmd: list[str], spec: AppSpec, step: str) -> None:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = "\n".join(line for line in (proc.stderr or proc.stdout).splitlines()
                         if "is ignored: it is neither a file nor a directory" not in line)[-2000:]
        hint = ("\n(no route to the package registry: install the apps beforehand with scripts/setup_lab_apps.sh, "
                "outside the lab's network namespace)") if "name resolution" in tail or "NewConnectionError" in tail else ""
        raise AppError(f"lab app {spec.name}: {step} failed (exit {proc.returncode}):\n{tail[-800:]}{hint}")


# -- start --------------------------------------------------------------------------------------

def _app_config(spec: AppSpec, root: Path, port: int, onion: str, onion_of: dict[str, str],
                configs: Path, venvs_dir: Path | None,
                sites: list[dict[str, Any]] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The runner's config (seeded content included) and the seeded items [{path, kind, source}]."""
    data = root / "apps" / spec.name
    data.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {"port": port, "request_log": str(data / "requests.log"), "domain": onion,
                           "settings": spec.settings, **spec.settings}
    truth: list[dict[str, Any]] = []
    if spec.seed.get("pastes") or spec.seed.get("samples"):
        pastes = content.pastes(configs, spec.seed.get("pastes") or [], spec.seed.get("samples") or [])
        cfg.update(database=str(data / "pinnwand.sqlite3"), pastes=pastes)
        if spec.seed.get("index_page"):  # pinnwand lists no pastes itself: the operator's index page
            cfg["pages"] = {spec.seed["index_page"]: content.paste_index(pastes)}
        truth = [{"path": f"/{p['slug']}", "kind": p["kind"], "source": p["source"]} for p in pastes]
    if spec.seed.get("directory"):  # a Hidden-Wiki-style directory of the lab's onions
        pages = content.wiki_pages(spec.seed["directory"], sites, onion_of)
        cfg.update(pages=pages, onion=onion, install_dir=spec.settings.get("install_dir", "/usr/share/mediawiki"))
        truth = [{"path": f"/index.php/{title}", "kind": "other", "source": "lab sites"} for title in pages]
    if spec.seed.get("listings"):
        other = load_apps().get(spec.seed.get("link_samples_to") or "")
        paste_onion = onion_of.get(other.role) if other else None  # linked only when that app is up too
        products = content.products(configs, spec.seed["listings"], paste_onion=paste_onion,
                                    paste_seed=other.seed if other else {})
        db = data / "db.sqlite3"
        if not db.exists():
            shutil.copy(venv_of(spec, venvs_dir) / "template" / "db.sqlite3", db)
        cfg.update(database=str(db), media_root=str(data / "media"), secret_key=secrets.token_hex(24),
                   products=products)
        truth = [{"upc": p["upc"], "kind": p["kind"], "source": p["source"], "links": p["links"]} for p in products]
    return cfg, truth


def _wait_local(spec: AppSpec, proc: subprocess.Popen, port: int, out: Path, err: Path, timeout: float) -> dict[str, Any]:
    """Until the runner said it listens and the port answers HTTP; its JSON line."""
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise AppError(f"lab app {spec.name} exited ({proc.returncode}); see {err}:\n"
                           + err.read_text(errors="replace")[-1500:])
        lines = out.read_text(errors="replace").splitlines() if out.exists() else []
        ready = next((json.loads(line) for line in lines if line.startswith("{") and '"listening"' in line), None)
        if ready:
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=10, allow_redirects=False)
                return ready
            except requests.RequestException:
                pass
        if time.time() > deadline:
            raise AppError(f"lab app {spec.name} did not answer on 127.0.0.1:{port} within {timeout:.0f}s; see {err}")
        time.sleep(0.3)


def _profile(spec: AppSpec, onion: str, root: Path) -> Path:
    body = {"name": f"lab-app-{spec.name}", "onions": [onion], **spec.profile}
    out = root / PROFILES_DIR / f"app-{spec.name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# Crawl profile for the lab app {spec.name} ({spec.source.name}), written by lab.apps.\n"
                   + yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out


def add(root: Path, names: Iterable[str], *, timeout: float = 180.0, venvs_dir: Path | None = None,
        log: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Install (if needed), start, seed and publish the named apps on the running lab at `root`;
    returns the lab's new state. An app already up is left as it is."""
    from lab.control import is_up, read_state, wait_reachable
    from lab.options import _write_state

    root = Path(root)
    state = read_state(root)
    if not is_up(state):
        raise RuntimeError(f"the lab at {root} is not up")
    assert state is not None
    specs = [s for s in resolve(names) if s.role not in (state.get("options") or {})]
    if not specs:
        return state
    started = time.time()
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:  # pip downloads in parallel
        installs = list(pool.map(lambda s: install(s, venvs_dir, log=log), specs))
    install_seconds = time.time() - started
    net = TorNetwork(root / "tor")
    ports = dict(zip((s.name for s in specs), free_ports(len(specs))))
    with ThreadPoolExecutor(max_workers=8) as pool:
        onions = dict(zip(ports, pool.map(lambda n: net.publish(f"{OPTION_PREFIX}{n}", ports[n], timeout=timeout), ports)))
    onion_of = {s["name"]: s["onion"] for s in state["sites"]} | {f"{OPTION_PREFIX}{n}": o for n, o in onions.items()}
    configs = default_configs_dir()
    procs: list[tuple[AppSpec, subprocess.Popen, Path, Path, list[dict[str, Any]]]] = []
    try:
        for spec in specs:
            data = root / "apps" / spec.name
            others = state["sites"] + [{"name": s.role, "role": s.role, "title": s.title, "onion": onions[s.name]}
                                       for s in specs]
            cfg, truth = _app_config(spec, root, ports[spec.name], onions[spec.name], onion_of, configs, venvs_dir,
                                     others)
            cfg_path = data / "app.json"
            cfg_path.write_text(json.dumps(cfg, indent=1, ensure_ascii=False), encoding="utf-8")
            cfg_path.chmod(0o600)  # holds the app's secret key
            out, err = data / "runner.out", data / "app.log"
            out.unlink(missing_ok=True)
            with open(out, "wb") as o, open(err, "ab") as e:
                proc = subprocess.Popen([python_of(spec, venvs_dir), str(RUN_DIR / spec.runner),
                                         "--config", str(cfg_path)], stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                        cwd=data, start_new_session=True,
                                        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(data),
                                             "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
            procs.append((spec, proc, out, err, truth))
        entries = []
        for spec, proc, out, err, truth in procs:
            ready = _wait_local(spec, proc, ports[spec.name], out, err, timeout)
            for item in truth:  # the shop knows its product URLs only once it has seeded them
                if "upc" in item:
                    item["path"] = ready["products"][item["upc"]]
            data = root / "apps" / spec.name
            (data / "truth.json").write_text(json.dumps({"app": spec.name, "items": truth}, indent=1, ensure_ascii=False),
                                             encoding="utf-8")
            entries.append({
                "name": spec.role, "role": spec.role, "title": spec.title, "lang": spec.lang,
                "onion": onions[spec.name], "port": ports[spec.name], "option": spec.role, "app": spec.name,
                "version": spec.version, "pid": proc.pid, "request_log": str(data / "requests.log"),
                "truth": str(data / "truth.json"), "profile": str(_profile(spec, onions[spec.name], root)),
                "local_url": f"http://127.0.0.1:{ports[spec.name]}/", "seeded": len(truth),
            })
    except BaseException:
        for _, proc, *_ in procs:
            _stop(proc.pid)
        raise
    state = read_state(root) or state
    state["sites"] = [s for s in state["sites"] if s["name"] not in {e["name"] for e in entries}] + entries
    for e in entries:
        state["pids"] = list(state.get("pids") or []) + [e["pid"]]
        state.setdefault("options", {})[e["role"]] = {"pid": e["pid"], "sites": [e["name"]]}
    state["profiles"] = str(root / PROFILES_DIR)
    state.setdefault("apps", {}).update({s.name: {"install": i, "install_seconds": round(install_seconds, 1)}
                                         for s, i in zip(specs, installs)})
    _write_state(root, state)
    client = int(state["socks"][0].rsplit(":", 1)[1])
    wait_reachable(state, list(onions.values()), client, timeout)
    took = time.time() - started
    for s in specs:
        state["apps"][s.name]["start_seconds"] = round(took, 1)
    _write_state(root, state)
    log(f"lab apps {', '.join(s.name for s in specs)}: published in {took:.0f}s "
        f"(install {install_seconds:.0f}s)")
    return state


def _stop(pid: int) -> None:
    import signal

    if pid and pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def requests_of(site: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every request the app logged, from its own access log (tornado's
    "200 GET /path (ip) 1.2ms" or gunicorn's combined format '"GET /path HTTP/1.1"')."""
    out = []
    path = Path(site["request_log"])
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []:
        php = PHP_LOG.search(line)  # php -S: "[pid] [date] 127.0.0.1:port [200]: GET /index.php/Main_Page"
        if php:
            out.append((php[1], php[2]))
        elif '"' in line:
            request = line.split('"')[1].split()
            if len(request) >= 2:
                out.append((request[0], request[1]))
        else:
            words = line.split()
            for i, w in enumerate(words[:-1]):
                if w.isdigit() and len(w) == 3 and words[i + 1].isupper():
                    out.append((words[i + 1], words[i + 2] if i + 2 < len(words) else ""))
                    break
    return out
