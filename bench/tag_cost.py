"""CPU work of tagging, in instructions, for this tree and an earlier revision, in one run.

Wall-clock MB/s (tag_speed.py) swings ±20-40 % when other processes share the machine; the
number of instructions executed does not. Each tree runs twice under valgrind's callgrind:
once loading the Tagger and warming it up, once also tagging the first --docs pages of
tag_speed.py's corpus; the difference is the cost of tagging those pages.

Run:  .venv/bin/python bench/tag_cost.py --against <commit>     (needs valgrind; ~5 min of CPU per tree)
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = """
import sys
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
from tag_speed import corpus
from enrich import Tagger
texts = corpus(int(sys.argv[3]))
tagger = Tagger.load()
tagger.tag_many(texts[:50])
if sys.argv[4] == "tag":
    tagger.tag_many(texts)
"""


def instructions(tree: Path, docs: int, mode: str) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", CHILD,
         str(tree), str(HERE), str(docs), mode],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return int(re.search(r"I\s+refs:\s+([\d,]+)", out.stderr).group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="an earlier commit whose enrich/ and configs/ to compare")
    parser.add_argument("--docs", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against, "enrich", "configs"],
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        trees = {args.against: Path(tmp), "this tree": ROOT}
        jobs = [(name, mode) for name in trees for mode in ("load", "tag")]
        with ThreadPoolExecutor(len(jobs)) as pool:
            counts = dict(zip(jobs, pool.map(lambda job: instructions(trees[job[0]], args.docs, job[1]), jobs)))
    cost = {name: counts[name, "tag"] - counts[name, "load"] for name in trees}
    base = cost[args.against]
    print(f"instructions to tag {args.docs} pages of tag_speed.py's corpus (callgrind)\n")
    print(f"| tree | instructions | per page | ÷ {args.against} |")
    print("|---|---|---|---|")
    for name, n in cost.items():
        print(f"| {name} | {n / 1e9:.3f} G | {n / args.docs / 1e6:.2f} M | {n / base:.3f} |")


if __name__ == "__main__":
    main()
