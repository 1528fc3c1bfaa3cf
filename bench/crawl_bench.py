"""Crawl throughput through the lab's real Tor network, side by side, in one run:

  onionwatch   `onionwatch crawl --no-enrich --output x.jsonl` (Scrapy + httpx + our SOCKS backend)
  privoxy      the same crawler, but Scrapy's default HTTP/1.1 handler via privoxy
               (`forward-socks5t / 127.0.0.1:SOCKS .`, one privoxy per Tor client, Ahmia-style)
  aiohttp      a bare aiohttp + aiohttp-socks client: same URLs, same concurrency, same Tor client
  direct       the bare client straight to the lab's site ports, no Tor (the cost of Tor itself)
  +enrich+index (one point): the crawler tagging and indexing into a local noida-db

swept over concurrency (1, 8, 32, 64) and Tor client instances (1, 2, 4). Every client
fetches the same URL list (all pages of the lab's generated sites) with the crawler's own
onion → Tor instance mapping and per-onion SOCKS username.

Run:  .venv/bin/python bench/crawl_bench.py [--quick]      (as root: re-execs under unshare -n)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    Page, bulk_pages, child_cpu, crawl_cmd, ensure_isolated, instance_for, lab, log, machine, noida,
    onionwatch_env, print_table, profile_summary, py_spy, ratio, run_crawl, workdir,
)
from procs import free_ports  # noqa: E402


class PrivoxyRoute:
    """Bench-only downloader middleware (after TorRoutingMiddleware picked the Tor instance):
    send the request to that instance's privoxy as a plain HTTP proxy."""

    def __init__(self, proxies: list[str]) -> None:
        self.proxies = proxies

    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        return cls(crawler.settings.getlist("BENCH_PRIVOXY"))

    def process_request(self, request):  # noqa: ANN001, ANN201
        request.meta["proxy"] = f"http://{self.proxies[request.meta.get('tor_instance', 0)]}"
        return None


def privoxy_settings(proxies: list[str]) -> list[str]:
    """`-s` overrides swapping in Scrapy's default handler and routing through privoxy."""
    from crawler.addons import ONION_CRAWL

    handlers = dict(ONION_CRAWL["DOWNLOAD_HANDLERS"],
                    http="scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler",
                    https="scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler")
    # the OnionCrawl add-on adds its own middlewares to whatever DOWNLOADER_MIDDLEWARES holds
    middlewares = {"bench.crawl_bench.PrivoxyRoute": 995}
    return ["-s", f"DOWNLOAD_HANDLERS={json.dumps(handlers)}",
            "-s", f"DOWNLOADER_MIDDLEWARES={json.dumps(middlewares)}",
            "-s", f"BENCH_PRIVOXY={','.join(proxies)}"]


def start_privoxies(socks: list[str], root: Path) -> tuple[list[str], list[subprocess.Popen]]:
    addrs, procs = [], []
    for i, s in enumerate(socks):
        port = free_ports(1)[0]
        conf = root / f"privoxy-{i}.conf"
        conf.write_text(
            f"listen-address 127.0.0.1:{port}\n"
            f"forward-socks5t / {s} .\n"
            "toggle 0\nenable-remote-toggle 0\nenable-edit-actions 0\n"
            "keep-alive-timeout 30\nconnection-sharing 1\nsocket-timeout 60\n"
            "max-client-connections 512\nlisten-backlog 512\n"
        )
        procs.append(subprocess.Popen(["privoxy", "--no-daemon", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        addrs.append(f"127.0.0.1:{port}")
    for addr in addrs:  # wait until each listens
        host, port = addr.split(":")
        for _ in range(100):
            try:
                import socket

                socket.create_connection((host, int(port)), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
    return addrs, procs


# --- the bare client ---------------------------------------------------------------------------

async def _fetch_all(jobs: list[tuple[str, str | None]], concurrency: int) -> tuple[int, float]:
    """(200-responses, seconds) for GETting every (url, proxy) with `concurrency` workers."""
    import aiohttp
    from aiohttp_socks import ProxyConnector

    sessions: dict[str | None, aiohttp.ClientSession] = {}
    for _, proxy in jobs:
        if proxy not in sessions:
            connector = (ProxyConnector.from_url(proxy, rdns=True, limit=0) if proxy
                         else aiohttp.TCPConnector(limit=0))
            sessions[proxy] = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))
    todo = iter(jobs)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for url, proxy in todo:
            try:
                async with sessions[proxy].get(url) as resp:
                    await resp.read()
                    ok += resp.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                pass

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    for s in sessions.values():
        await s.close()
    return ok, elapsed


def bare(pages: list[Page], socks: list[str] | None, concurrency: int) -> tuple[int, float, float]:
    """(ok, seconds, CPU ms/page) for the bare client through Tor (socks given) with the
    crawler's routing, or direct."""
    from crawler.tor import isolation_username

    if socks:
        jobs = [(p.url, f"socks5://{isolation_username(p.onion)}:x@{socks[instance_for(p.onion, len(socks))]}")
                for p in pages]
    else:
        jobs = [(p.direct, None) for p in pages]
    cpu = time.process_time()
    ok, secs = asyncio.run(_fetch_all(jobs, concurrency))
    return ok, secs, 1000 * (time.process_time() - cpu) / max(ok, 1)


def warm_up(pages: list[Page], socks: list[str], privoxies: list[str]) -> None:
    """Build every onion's rendezvous circuits on every Tor client first (both isolation
    keys used below), so no variant pays circuit setup the others don't."""
    roots = {p.onion: p for p in pages}.values()
    for k in range(1, len(socks) + 1):
        n, _, _ = bare(list(roots), socks[:k], 16)
        jobs = [(p.url, f"http://{privoxies[instance_for(p.onion, k)]}") for p in roots]
        asyncio.run(_fetch_privoxy(jobs))
        log(f"warm-up with {k} Tor client(s): {n}/{len(roots)} onions answered")


async def _fetch_privoxy(jobs: list[tuple[str, str]]) -> None:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
        async def one(url: str, proxy: str) -> None:
            try:
                async with s.get(url, proxy=proxy) as r:
                    await r.read()
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                pass
        await asyncio.gather(*(one(u, p) for u, p in jobs))


# --- the crawler -------------------------------------------------------------------------------

SUBSET = 300  # URLs for the slow concurrency-1 runs (every onion's first pages)
STARTUP_CPU = 0.0  # CPU seconds a crawler process spends before and after crawling (imports etc.)


def crawler(pages: list[Page], state: dict, k: int, concurrency: int, tmp: Path, extra: list[str],
            env: dict[str, str], output: bool = True) -> tuple[int, float, float, dict]:
    """(pages, crawl seconds, CPU ms/page net of process startup, summary)."""
    seeds = tmp / "seeds.txt"
    seeds.write_text("\n".join(p.url for p in pages) + "\n")
    out = tmp / f"out-{time.monotonic_ns()}.jsonl"
    args = ["--concurrency", str(concurrency), "--no-enrich", "--output", str(out)] if output else \
        ["--concurrency", str(concurrency)]
    args += ["-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}",
             "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=1000000", "--timeout", "60", *extra]
    cpu = child_cpu()
    summary = run_crawl(crawl_cmd(seeds, state["socks"][:k], state["control"][:k], args), env)
    cpu = child_cpu() - cpu - STARTUP_CPU
    return summary["pages"], summary["seconds"], 1000 * cpu / max(summary["pages"], 1), summary


def sweep(pages: list[Page], state: dict, clients: list[int], concurrencies: list[int], privoxies: list[str],
          tmp: Path, env: dict[str, str]) -> tuple[list[list], list[list]]:
    direct, rows = [], []
    for c in concurrencies:
        subset = pages[:SUBSET] if c == 1 else pages
        n, secs, cpu = bare(subset, None, c)
        direct.append([c, len(subset), n / secs, f"{cpu:.2f}"])
        log(f"direct c={c}: {n / secs:.0f} pages/s")
    for k in clients:
        for c in concurrencies:
            subset = pages[:SUBSET] if c == 1 else pages
            # a partial list isn't closed under links: keep the crawler to the list itself
            confine = ["--max-depth", "0"] if len(subset) < len(pages) else []
            n_b, s_b, cpu_b = bare(subset, state["socks"][:k], c)
            n_o, s_o, cpu_o, _ = crawler(subset, state, k, c, tmp, confine, env)
            n_p, s_p, cpu_p, _ = crawler(subset, state, k, c, tmp, confine + privoxy_settings(privoxies[:k]), env)
            bare_r, ow_r, px_r = n_b / s_b, n_o / s_o, n_p / s_p
            direct_r = next(r[2] for r in direct if r[0] == c)
            rows.append([k, c, len(subset), f"{n_b}/{n_o}/{n_p}", bare_r, ow_r, px_r,
                         ratio(ow_r, bare_r), ratio(px_r, bare_r), ratio(bare_r, direct_r),
                         f"{cpu_b:.2f}/{cpu_o:.2f}/{cpu_p:.2f}"])
            log(f"k={k} c={c}: aiohttp {bare_r:.0f}  onionwatch {ow_r:.0f}  privoxy {px_r:.0f} pages/s")
    return direct, rows


def main() -> None:
    global STARTUP_CPU
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced sweep: concurrency 8/32, Tor clients 1/2")
    ap.add_argument("--lab-dir", type=Path, help="reuse (and keep) a lab at this directory")
    ap.add_argument("--no-index", action="store_true", help="skip the enrich+index point")
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profile of one crawl")
    args = ap.parse_args()
    ensure_isolated()

    concurrencies = [8, 32] if args.quick else [1, 8, 32, 64]
    clients = [1, 2] if args.quick else [1, 2, 4]
    bulk = (8, 100) if args.quick else (16, 150)
    tmp = workdir("crawl-bench")
    lab_root = args.lab_dir or tmp / "lab"
    env = onionwatch_env(tmp / "home")
    log(f"{machine()}; lab with {max(clients)} Tor client(s), bulk sites {bulk}")
    with lab(lab_root, clients=max(clients), bulk=bulk, keep=args.lab_dir is not None) as state:
        pages = bulk_pages(state)
        privoxies, procs = start_privoxies(state["socks"], tmp)
        try:
            warm_up(pages, state["socks"], privoxies)
            missing = Page(pages[0].onion, f"http://{pages[0].onion}/p/999999999", "")  # a 404: no links
            _, _, cpu1, _ = crawler([missing], state, 1, 1, tmp, [], env)
            STARTUP_CPU = cpu1 / 1000  # a crawl of one 404: process start and stop only
            direct, rows = sweep(pages, state, clients, concurrencies, privoxies, tmp, env)
            print(f"\nbench/crawl_bench.py{' --quick' if args.quick else ''} — {machine()}")
            print(f"URL list: {len(pages)} pages on {bulk[0]} generated lab onions (c=1 runs: the first {SUBSET}, "
                  "crawler with --max-depth 0 so it fetches only those); "
                  f"crawler CPU is net of {STARTUP_CPU:.1f} s process start-up")
            print_table("Direct HTTP to the lab's site ports (no Tor), bare aiohttp",
                        ["conc", "urls", "pages/s", "cpu ms/page"], direct)
            print_table(
                "Through Tor: pages/s (ok = 200 responses; cpu = client CPU ms/page; order aiohttp/onionwatch/privoxy)",
                ["tor", "conc", "urls", "ok", "aiohttp", "onionwatch", "privoxy",
                 "ow/aiohttp", "privoxy/aiohttp", "aiohttp/direct", "cpu ms/page"], rows)
            if not args.no_index:
                k, c = max(clients), 32
                with noida(tmp / "es") as es_url:
                    ienv = dict(env, ONIONWATCH_ES_URL=es_url)
                    n_raw, s_raw, cpu_raw, _ = crawler(pages, state, k, c, tmp, [], env)
                    n_ix, s_ix, cpu_ix, summ = crawler(pages, state, k, c, tmp, [], ienv, output=False)
                print_table(f"Crawler with enrich+index into noida-db (tor={k}, conc={c})",
                            ["variant", "pages", "pages/s", "cpu ms/page", "stored", "vs --no-enrich"],
                            [["--no-enrich --output", n_raw, n_raw / s_raw, f"{cpu_raw:.2f}", "-", "1.00x"],
                             ["enrich + index", n_ix, n_ix / s_ix, f"{cpu_ix:.2f}", summ.get("stored"),
                              ratio(n_ix / s_ix, n_raw / s_raw)]])
            if not args.no_profile:
                profile(pages, state, tmp, env)
        finally:
            for p in procs:
                p.terminate()
                p.wait()


def profile(pages: list[Page], state: dict, tmp: Path, env: dict[str, str]) -> None:
    """Where the crawler's CPU goes (py-spy, GIL-holding samples of every thread)."""
    seeds = tmp / "seeds.txt"
    seeds.write_text("\n".join(p.url for p in pages) + "\n")
    cmd = crawl_cmd(seeds, state["socks"][:1], state["control"][:1], [
        "--concurrency", "32", "--no-enrich", "--output", str(tmp / "profile.jsonl"),
        "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=32", "-s", "ONIONWATCH_MAX_PAGES_PER_ONION=1000000"])
    proc = py_spy(cmd, tmp / "crawl.pyspy", env)
    if not (tmp / "crawl.pyspy").exists():
        print(f"\n(py-spy profile unavailable: {proc.stderr.strip()[-300:]})")
        return
    buckets, top = profile_summary(tmp / "crawl.pyspy")
    print_table("Where the crawler's CPU goes (py-spy --gil, tor=1, conc=32, --no-enrich)", ["stage", "share"], buckets)
    print_table("Top functions by own CPU time", ["function", "share"], top)


if __name__ == "__main__":
    main()
