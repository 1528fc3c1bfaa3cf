"""Which Elasticsearch to use: a configured cluster, or the embedded local noida-db.

With no ``ONIONWATCH_ES_URL`` onionwatch starts ``noida-db`` (Elasticsearch REST API, no
JVM or Docker) bound to 127.0.0.1 with its data under the onionwatch data dir, and
reuses it across commands: its pid and port are recorded in ``<data dir>/server.json``.
The port outlives the process: a restart (``onionwatch es up`` after a crash or ``es
down``) listens on the recorded port again, so a client that outlives the restart (a
running crawl) reaches the new server at the same URL. The data dir is 0700 and every
file in it 0600 (the server runs with umask 077): crawled pages are evidence.

The embedded server answers a full-text query by scanning every page, so it stays
interactive only up to a measured number of pages (``EMBEDDED_PAGE_LIMIT``,
bench/es_limit_bench.py); commands that use it warn when an index nears that, and
``onionwatch es migrate --to URL`` moves everything to a real cluster.

The server's lifecycle lives here, in the composition root, because it needs the data
dir and credentials from settings; building the client itself is index.client.connect.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

import configs
from index import Names
from index.client import connect
from onionwatch import settings
from procs import free_ports, pid_alive

__all__ = ["EMBEDDED_PAGE_LIMIT", "LocalServer", "capacity", "capacity_note", "client", "client_factory",
           "default_data_dir", "index_config_dir", "index_names", "recorded_port", "start", "status", "stop"]

HOST = "127.0.0.1"
STATE_FILE = "server.json"
LOG_FILE = "server.log"
LOCK_FILE = ".lock"
DIR_MODE, FILE_MODE = 0o700, 0o600

# Pages (~3 KB of text each) at which one full-text search on the embedded server takes
# more than 1 s: measured ~2,100 on 2 cores (bench/es_limit_bench.py, 2026-11-30: a match
# is a linear scan, ~0.46 ms of server CPU per page per query; RSS ~160 KiB per page).
# Warn from WARN_FRACTION of it on.
EMBEDDED_PAGE_LIMIT = 2000
WARN_FRACTION = 0.8


@dataclass(frozen=True)
class LocalServer:
    pid: int
    port: int
    data_dir: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def default_data_dir() -> Path:
    return settings.home() / "es"


def _binary() -> str:
    """The noida-db executable itself (not its Python wrapper, which would not forward signals)."""
    packaged = files("noida_db").joinpath("noida-db")
    if packaged.is_file():
        path = str(packaged)
        os.chmod(path, 0o755)
        return path
    found = shutil.which("noida-db")
    if not found:
        raise RuntimeError("noida-db is not installed (pip install noida-db==0.2.3)")
    return found


def _answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=timeout) as resp:
            return resp.status == 200 and b"cluster_name" in resp.read()
    except OSError:
        return False


def _port_free(port: int) -> bool:
    """Whether we could listen on HOST:port now (SO_REUSEADDR, as servers do)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _secure(data_dir: Path) -> None:
    """The data dir 0700 and every file directly in it 0600 (older installs made them 0644)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, DIR_MODE)
    for path in data_dir.iterdir():
        if path.is_file() and not path.is_symlink():
            os.chmod(path, FILE_MODE)


def _open_private(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode on open: set it
    return fd


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise start/stop so two commands starting at once share one server."""
    _secure(data_dir)
    with os.fdopen(_open_private(data_dir / LOCK_FILE, os.O_WRONLY | os.O_CREAT), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read_state(data_dir: Path) -> dict[str, Any]:
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(data_dir: Path, server: LocalServer) -> None:
    """Atomically, mode 0600. pid 0 records a stopped server's port for its next start."""
    tmp = data_dir / f".{STATE_FILE}.tmp"
    with os.fdopen(_open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as fh:
        json.dump(asdict(server), fh)
    os.replace(tmp, data_dir / STATE_FILE)


def recorded_port(data_dir: Path | None = None) -> int | None:
    """The port the local server of this data dir listens on, or will listen on when started."""
    port = _read_state((data_dir or default_data_dir()).resolve()).get("port")
    return port if isinstance(port, int) and 0 < port < 65536 else None


def status(data_dir: Path | None = None) -> LocalServer | None:
    """The recorded local server if it is running and answering, else None."""
    state = _read_state((data_dir or default_data_dir()).resolve())
    try:
        server = LocalServer(pid=int(state["pid"]), port=int(state["port"]), data_dir=str(state["data_dir"]))
    except (KeyError, TypeError, ValueError):
        return None
    return server if server.pid and pid_alive(server.pid) and _answers(server.port) else None


def _choose_port(data_dir: Path, port: int | None) -> int:
    """An explicit port; else the recorded one (clients that outlive a restart keep working);
    else a free one. A recorded port that something else holds now is replaced, loudly."""
    if port:
        return port
    recorded = recorded_port(data_dir)
    if recorded is None:
        return free_ports(1)[0]
    deadline = time.monotonic() + 5.0  # a killed server's socket may take a moment to go
    while not _port_free(recorded):
        if time.monotonic() > deadline:
            new = free_ports(1)[0]
            print(f"warning: port {recorded} recorded for the local Elasticsearch server is in use by another "
                  f"program; starting on {new} instead (restart clients that still use the old port)",
                  file=sys.stderr, flush=True)
            return new
        time.sleep(0.2)
    return recorded


def start(data_dir: Path | None = None, port: int | None = None, timeout: float = 30.0) -> LocalServer:
    """Start noida-db in the background (or return the one already running for this dir).

    It listens on ``port``, else on the port recorded for this data dir, else a free one;
    the port is recorded (server.json, 0600) and kept across stops and crashes. For the
    installation's own server, warns on stderr when its pages near EMBEDDED_PAGE_LIMIT."""
    server = _start((data_dir or default_data_dir()).resolve(), port, timeout)
    _warn_if_near_limit(server)
    return server


def _start(data_dir: Path, port: int | None, timeout: float) -> LocalServer:
    with _locked(data_dir):
        running = status(data_dir)
        if running and (not port or port == running.port):
            return running
        if running:
            raise RuntimeError(f"the local server already runs on port {running.port}; "
                               f"stop it (`onionwatch es down`) to move it to {port}")
        port = _choose_port(data_dir, port)
        log_fd = _open_private(data_dir / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            proc = subprocess.Popen(
                [_binary(), "start", "--only", "elasticsearch", "--host", HOST,
                 "--elasticsearch-port", str(port), "--data-dir", str(data_dir)],
                stdin=subprocess.DEVNULL, stdout=log_fd, stderr=subprocess.STDOUT, start_new_session=True,
                umask=0o077,  # its data files (the index, the control file with its token) are 0600
            )
        finally:
            os.close(log_fd)
        deadline = time.monotonic() + timeout
        while not _answers(port, timeout=0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                tail = (data_dir / LOG_FILE).read_text(errors="replace")[-800:]
                raise RuntimeError(f"noida-db did not start on {HOST}:{port}; log tail:\n{tail}")
            time.sleep(0.1)
        server = LocalServer(pid=proc.pid, port=port, data_dir=str(data_dir))
        _write_state(data_dir, server)
        _secure(data_dir)
        return server


def stop(data_dir: Path | None = None, timeout: float = 15.0) -> bool:
    """Stop the local server gracefully (it saves its data on SIGTERM); True if one ran.
    Its port stays recorded for the next start."""
    data_dir = (data_dir or default_data_dir()).resolve()
    with _locked(data_dir):
        server = status(data_dir)
        port = recorded_port(data_dir)
        if port:
            _write_state(data_dir, LocalServer(pid=0, port=port, data_dir=str(data_dir)))
        if server is None:
            return False
        os.kill(server.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(server.pid):
            if time.monotonic() > deadline:
                os.kill(server.pid, signal.SIGKILL)
                break
            time.sleep(0.1)
        return True


# -- how far the embedded server goes ------------------------------------------------------

_capacity_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}  # (data dir, prefix)
CAPACITY_TTL = 60.0


def capacity(es: Elasticsearch, names: Names) -> dict[str, Any]:
    """Pages stored against the embedded server's measured full-text limit:
    {pages, limit, near (>= WARN_FRACTION of the limit), over}."""
    try:
        pages = int(es.count(index=names.pages)["count"])
    except Exception:  # noqa: BLE001 — no pages alias yet, or the server is down: nothing to warn about
        pages = 0
    return {"pages": pages, "limit": EMBEDDED_PAGE_LIMIT, "near": pages >= WARN_FRACTION * EMBEDDED_PAGE_LIMIT,
            "over": pages >= EMBEDDED_PAGE_LIMIT}


def _note(cap: dict[str, Any]) -> str | None:
    if not cap["near"]:
        return None
    state = "over" if cap["over"] else "near"
    return (f"the embedded Elasticsearch server holds {cap['pages']:,} pages, {state} its limit of about "
            f"{cap['limit']:,} (beyond it a full-text search takes more than 1 s and memory grows with every "
            f"page): move to a real cluster with `onionwatch es migrate --to URL` and set ONIONWATCH_ES_URL")


def capacity_note(es: Elasticsearch | None = None, names: Names | None = None) -> str | None:
    """A warning when this installation uses the embedded server and its pages near the limit,
    else None. Cached for CAPACITY_TTL seconds (the web app asks on every page)."""
    if settings.es_config().url:
        return None
    names = names or index_names()
    key = (str(default_data_dir().resolve()), names.prefix)
    cached = _capacity_cache.get(key)
    if cached and time.monotonic() - cached[0] < CAPACITY_TTL:
        return _note(cached[1])
    server = status()
    if server is None:
        return None
    own = es is None
    es = es or connect(server.url)
    try:
        cap = capacity(es, names)
    finally:
        if own:
            es.close()
    _capacity_cache[key] = (time.monotonic(), cap)
    return _note(cap)


def _warn_if_near_limit(server: LocalServer) -> None:
    """Say it once per command that starts or reuses the installation's embedded server."""
    if server.data_dir != str(default_data_dir().resolve()):
        return  # a private server (tests, benches): not the installation's
    try:
        note = capacity_note()
    except Exception:  # noqa: BLE001 — a warning must never stop a command
        return
    if note:
        print(f"warning: {note}", file=sys.stderr, flush=True)


def client_factory(config: settings.ESConfig | None = None) -> Callable[[], Elasticsearch]:
    """A function making connected clients: the configured cluster, or the local server
    (started now if needed). Workers call it once each rather than sharing a client."""
    config = config or settings.es_config()
    if config.url:
        url = config.url
    else:
        url = start().url
    return lambda: connect(url, username=config.username, password=config.password,
                           api_key=config.api_key, ca_certs=config.ca_certs)


def client() -> Elasticsearch:
    """One connected client for a CLI command."""
    return client_factory()()


def index_names() -> Names:
    """Index names for this installation (its configured prefix)."""
    return Names(settings.index_prefix())


def index_config_dir() -> Path:
    """The versioned index templates (configs/index), wherever the configs live."""
    return configs.path("index")
