"""Which Elasticsearch to use: a configured cluster, or the embedded local noida-db.

With no ``ONIONWATCH_ES_URL`` onionwatch starts ``noida-db`` (Elasticsearch REST API, no
JVM or Docker) bound to 127.0.0.1 with its data under the onionwatch data dir, and
reuses it across commands: its pid and port are recorded in ``<data dir>/server.json``.
The server's lifecycle lives here, in the composition root, because it needs the data
dir and credentials from settings; building the client itself is index.client.connect.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Callable, Iterator

from elasticsearch import Elasticsearch

import configs
from index import Names
from index.client import connect
from onionwatch import settings
from procs import free_ports, pid_alive

__all__ = ["LocalServer", "client", "client_factory", "default_data_dir", "index_config_dir",
           "index_names", "start", "status", "stop"]

HOST = "127.0.0.1"
STATE_FILE = "server.json"
LOG_FILE = "server.log"


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


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise start/stop so two commands starting at once share one server."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def status(data_dir: Path | None = None) -> LocalServer | None:
    """The recorded local server if it is running and answering, else None."""
    state = (data_dir or default_data_dir()) / STATE_FILE
    try:
        server = LocalServer(**json.loads(state.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return server if pid_alive(server.pid) and _answers(server.port) else None


def start(data_dir: Path | None = None, port: int | None = None, timeout: float = 30.0) -> LocalServer:
    """Start noida-db in the background (or return the one already running for this dir)."""
    data_dir = (data_dir or default_data_dir()).resolve()
    with _locked(data_dir):
        running = status(data_dir)
        if running:
            return running
        port = port or free_ports(1)[0]
        log = open(data_dir / LOG_FILE, "ab")
        proc = subprocess.Popen(
            [_binary(), "start", "--only", "elasticsearch", "--host", HOST,
             "--elasticsearch-port", str(port), "--data-dir", str(data_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _answers(port, timeout=0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                tail = (data_dir / LOG_FILE).read_text(errors="replace")[-800:]
                raise RuntimeError(f"noida-db did not start on {HOST}:{port}; log tail:\n{tail}")
            time.sleep(0.1)
        server = LocalServer(pid=proc.pid, port=port, data_dir=str(data_dir))
        (data_dir / STATE_FILE).write_text(json.dumps(asdict(server)))
        return server


def stop(data_dir: Path | None = None, timeout: float = 15.0) -> bool:
    """Stop the local server gracefully (it saves its data on SIGTERM); True if one ran."""
    data_dir = (data_dir or default_data_dir()).resolve()
    with _locked(data_dir):
        server = status(data_dir)
        (data_dir / STATE_FILE).unlink(missing_ok=True)
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
