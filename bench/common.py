"""Shared helpers for the benches: loopback-only isolation, the lab, a local noida-db,
subprocess crawls, RSS sampling and result tables.

Every bench runs its comparisons in one process run, so machine noise (2 shared cores)
hits all variants alike and the printed ratios stay meaningful."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PY = sys.executable


def isolated() -> bool:
    """True when this network namespace has only `lo` (asks the kernel, not /sys)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def ensure_isolated() -> None:
    """Re-exec this bench under `unshare -n` (loopback only) unless it already is; make
    SIGTERM/SIGINT unwind (so the lab and helper processes are stopped)."""
    import signal

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if isolated():
        return
    if os.environ.get("ONIONWATCH_BENCH_NETNS") == "1":
        sys.exit("bench: unshare -n did not leave only loopback; refusing to run")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it re-execs under `unshare -n`), or inside "
                 "`unshare -n sh -c 'ip link set lo up && ...'`")
    env = dict(os.environ, ONIONWATCH_BENCH_NETNS="1")
    os.execvpe("unshare", ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
                           PY, *sys.argv], env)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"onionwatch-{prefix}-"))


@contextmanager
def lab(root: Path, clients: int = 1, bulk: tuple[int, int] | None = None, keep: bool = False) -> Iterator[dict]:
    """The real lab (private Tor network + sites); reused if one with this shape runs at `root`."""
    from lab import control

    started = time.monotonic()
    state = control.up(root=root, clients=clients, bulk=bulk, timeout=300, log=log)
    log(f"lab ready ({time.monotonic() - started:.0f}s): {len(state['sites'])} onions, {clients} Tor client(s)")
    try:
        yield state
    finally:
        if not keep:
            control.down(root)


@dataclass(frozen=True)
class Page:
    onion: str
    url: str  # through Tor
    direct: str  # the same page straight from the lab's site port


def bulk_pages(state: dict) -> list[Page]:
    """Every page of the lab's generated (bulk) sites, interleaved across onions."""
    per_onion = int(state["bulk"][1])
    sites = [s for s in state["sites"] if s["role"] == "bulk"]
    paths = ["/"] + [f"/p/{i}" for i in range(1, per_onion)]
    return [Page(s["onion"], f"http://{s['onion']}{p}", f"http://127.0.0.1:{s['port']}{p}")
            for p in paths for s in sites]


def instance_for(onion: str, n: int) -> int:
    """The crawler's own onion → Tor instance mapping, so every client uses the same Tor."""
    from crawler.middlewares import TorRoutingMiddleware

    probe = TorRoutingMiddleware.__new__(TorRoutingMiddleware)
    probe.socks = [""] * n
    return probe.instance_for(onion)


@contextmanager
def noida(data_dir: Path) -> Iterator[str]:
    """A private noida-db (Elasticsearch API) on a free loopback port; yields its URL."""
    from onionwatch import es_server

    server = es_server.start(data_dir=data_dir, timeout=60)
    try:
        yield server.url
    finally:
        es_server.stop(data_dir)


def onionwatch_env(home: Path, lab_root: Path | None = None, **extra: str) -> dict[str, str]:
    env = dict(os.environ, ONIONWATCH_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    if lab_root is not None:
        env["ONIONWATCH_LAB_DIR"] = str(lab_root)
    return env


def crawl_cmd(seeds: Path, socks: list[str], controls: list[str], extra: list[str]) -> list[str]:
    """`onionwatch crawl` with explicit Tor ports and a JSON summary on stdout."""
    cmd = [PY, "-m", "onionwatch", "crawl", "--seeds", str(seeds), "--summary-json"]
    for s, c in zip(socks, controls):
        cmd += ["--socks", s, "--control", c]
    return cmd + ["-s", "ONIONWATCH_PROGRESS_INTERVAL=0", "-s", "LOG_LEVEL=WARNING", *extra]


def parse_summary(stdout: str) -> dict[str, Any]:
    """The crawl's `--summary-json` object, wherever it sits in the output."""
    return json.JSONDecoder().raw_decode(stdout[stdout.index("{"):])[0]


def run_crawl(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> dict[str, Any]:
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or "{" not in proc.stdout:
        raise RuntimeError(f"crawl failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return parse_summary(proc.stdout)


def rss_mb(pid: int) -> float:
    """Resident set size of one process, MiB (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler:
    """Samples a process's RSS every `interval` seconds in a thread: [(t, MiB), ...]."""

    def __init__(self, pid: int, interval: float = 3.0) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            mb = rss_mb(self.pid)
            if mb:
                self.samples.append((time.monotonic() - start, mb))
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def print_table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    """A plain fixed-width table on stdout (what the README quotes)."""
    cells = [[str(h) for h in headers]] + [[f"{c:.1f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def machine() -> str:
    return f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M')}"


def child_cpu() -> float:
    """CPU seconds (user+sys) used so far by this process's waited-for children."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# Where a sample's time goes: the first rule whose pattern is in the stack wins.
PROFILE_RULES = [
    ("startup (imports)", ("_find_and_load",)),
    ("enrich (tagger)", ("enrich/",)),
    ("index (PageWriter, ES client)", ("index/", "elasticsearch/", "elastic_transport/")),
    ("JSONL sink", ("JsonlSink",)),
    ("spider parse: extract (lxml)", ("crawler/extract.py",)),
    ("spider parse: onion validation", ("crawler/onion.py",)),
    ("spider parse: other", ("OnionSpider.",)),
    ("download: read body", ("_read_response",)),
    ("download: httpx/httpcore + SOCKS", ("download_request", "httpcore2/", "httpx2/", "crawler/tor.py")),
    ("downloader middlewares", ("DownloaderMiddlewareManager",)),
    ("spider output: middlewares, scheduling, dupefilter", (
        "_parallel_asyncio", "SpiderMiddlewareManager", "ExecutionEngine.crawl", "scheduler", "dupefilter")),
    ("item pipeline (batching)", ("StorePipeline", "itemproc", "ItemPipelineManager")),
    ("scrapy engine / asyncio / twisted loop", ("scrapy/", "asyncio/", "twisted/")),
]


def py_spy(cmd: list[str], out: Path, env: dict[str, str], rate: int = 200) -> subprocess.CompletedProcess:
    """Run `cmd` under py-spy (CPU samples of every thread holding the GIL)."""
    spy = str(Path(PY).parent / "py-spy")
    return subprocess.run([spy, "record", "-r", str(rate), "--gil", "--nonblocking", "-f", "raw", "-o", str(out),
                           "--", *cmd], cwd=REPO, env=env, capture_output=True, text=True)


def profile_summary(raw: Path, top: int = 12) -> tuple[list[list[Any]], list[list[Any]]]:
    """(buckets, top self-time functions) from py-spy's collapsed stacks, in % of samples."""
    import re
    from collections import Counter

    buckets: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        name = next((label for label, pats in PROFILE_RULES if any(p in stack for p in pats)), "other")
        buckets[name] += count
        own[re.sub(r":\d+\)$", ")", stack.rsplit(";", 1)[-1])] += count
    pct = lambda v: f"{100 * v / max(total, 1):.1f}%"  # noqa: E731
    return ([[k, pct(v)] for k, v in buckets.most_common()],
            [[k[:90], pct(v)] for k, v in own.most_common(top)])
