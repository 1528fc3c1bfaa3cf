"""`python -m lab.apps install [NAME ...]`: install the lab's real web apps into their venvs
(scripts/setup_lab_apps.sh runs this; `onionwatch lab up --apps` does it too when needed)."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab import apps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.apps")
    sub = ap.add_subparsers(dest="cmd", required=True)
    inst = sub.add_parser("install", help="install apps (default: all) into their venvs")
    inst.add_argument("names", nargs="*", default=["all"])
    inst.add_argument("--venvs", type=Path, default=None, help="default: var/lab-apps in the source tree")
    inst.add_argument("--force", action="store_true", help="reinstall even when the pinned list is unchanged")
    sub.add_parser("list", help="the apps defined in configs/lab/apps")
    ns = ap.parse_args(argv)
    if ns.cmd == "list":
        for spec in apps.load_apps().values():
            print(f"{spec.name:<10} {spec.role:<14} {spec.version:<8} installed={apps.is_installed(spec)}  {spec.title}")
        return 0
    try:
        specs = apps.resolve(ns.names)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2
    def one(spec: apps.AppSpec) -> dict | apps.AppError:
        try:
            return apps.install(spec, ns.venvs, force=ns.force, log=lambda m: print(m, file=sys.stderr, flush=True))
        except apps.AppError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(specs) or 1) as pool:  # pip waits on the registry: in parallel
        results = list(pool.map(one, specs))
    failed = [r for r in results if isinstance(r, apps.AppError)]
    for exc in failed:
        print(exc, file=sys.stderr)
    print(json.dumps([r for r in results if not isinstance(r, apps.AppError)], indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
