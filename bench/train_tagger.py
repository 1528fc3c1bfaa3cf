"""Train the offer classifier that ships with onionwatch (enrich/models/offers/).

Run:  .venv/bin/python bench/tagger_corpus.py            # once: the labelled corpus (offline)
      .venv/bin/python bench/train_tagger.py              # bag-of-words model → enrich/models/offers
      .venv/bin/python bench/train_tagger.py --arch ensemble --out bench/out/models/offers-ensemble

Reproducible: same corpus + config + seed → same weights and the same model_version (a digest of
exactly those). The library function is enrich.train.train_from_corpus (also behind
`onionwatch tagger train`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from enrich.train import DEFAULT_WEIGHTS, train_from_corpus

CONFIGS = HERE.parent / "configs" / "tagger"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "out" / "tagger-corpus")
    parser.add_argument("--arch", choices=("bow", "ensemble"), default="bow")
    parser.add_argument("--out", type=Path, default=HERE.parent / "enrich" / "models" / "offers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", type=json.loads, default=DEFAULT_WEIGHTS, help='oversampling, e.g. \'{"none": 4}\'')
    args = parser.parse_args()
    start = time.perf_counter()
    meta = train_from_corpus(args.corpus, args.out, CONFIGS / f"textcat_{args.arch}.cfg", seed=args.seed, weights=args.weights)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(json.dumps({**meta["onionwatch"], "seconds": round(time.perf_counter() - start, 1), "size_bytes": size}, indent=1))


if __name__ == "__main__":
    main()
