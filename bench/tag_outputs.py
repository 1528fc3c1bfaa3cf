"""Every tagging result on a fixed set of texts, to one file: the proof that a speed change left
the output identical (run it before and after, or on two trees, and compare the files with cmp).

Texts: the speed bench's corpus (tag_speed.corpus, 2,000 pages), presidio-research's synthetic
sentences, tests/data/tagger (labelled + hard negatives), bench/out/tagger-corpus (titles, and
title + description where there is one) and 3,000 of those texts with characters changed at
random (digits, separators, "@", "^"...: the edges of the PII patterns). Results: the Tagger's
full result for each text, a third of the first 3,000 with a "listing" page-kind hint, every
fifth rules-only, and the character pass's own analysis (language, entities, terms, amounts,
page-kind scores and reason, furniture) for the first 2,500.

Run:  .venv/bin/python bench/tag_outputs.py --out /tmp/after.jsonl [--root OTHER_TREE]
      (--root: import enrich and configs from another checkout, e.g. a `git archive` of an
      earlier commit; the texts always come from this checkout)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DATA = HERE.parent


def texts() -> list[tuple[str, str]]:
    import tag_speed

    out = [("bench", t) for t in tag_speed.corpus(2000)]
    synth = [r["full_text"] for r in json.loads((DATA / "bench/data/tagger/presidio_synth_dataset_v2.json").read_text())]
    out += [("synth", t) for t in synth]
    for name in ("labelled.yaml", "hard_negatives.yaml"):
        out += [(name, r["text"]) for r in yaml.safe_load((DATA / "tests/data/tagger" / name).read_text(encoding="utf-8"))]
    for path in sorted((DATA / "bench/out/tagger-corpus").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            out.append((path.name, record["text"]))
            description = (record.get("meta") or {}).get("description")
            if description:
                out.append((path.name + ":page", record["text"] + "\n" + description))
    rng = random.Random(7)
    alphabet = "0123456789 .-+()/:;|=@^%xX\nabcABC$€"
    pool = [t for _, t in out if any(c.isdigit() for c in t)]
    for _ in range(3000):
        chars = list(rng.choice(pool))
        for _ in range(rng.randint(1, 12)):
            if chars:
                chars[rng.randrange(len(chars))] = rng.choice(alphabet)
        out.append(("mutated", "".join(chars)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--root", type=Path, default=DATA, help="the checkout whose enrich/configs are imported")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(args.root.resolve()))
    import enrich
    from enrich import Tagger

    print(f"enrich from {Path(enrich.__file__).parent}")
    items = texts()
    tagger, rules = Tagger.load(), Tagger.load(classifier="")
    plain = [t for _, t in items]
    digest = hashlib.sha256()
    lines = [[source, result] for (source, _), result in zip(items, tagger.tag_many(plain))]
    lines += [["hint", r] for r in tagger.tag_many([(t, "listing") for t in plain[:3000:3]])]
    lines += [["rules", r] for r in rules.tag_many(plain[::5])]
    scanner = tagger.core.scanner
    for text in plain[:2500]:
        a = scanner.scan(text)
        lines.append(["scan", a.lang, [e.as_dict() for e in a.entities], [(t.kind, t.category, t.name, t.start, t.end, t.weight) for t in a.terms],
                      [(x.kind, x.start, x.end, x.value, x.unit) for x in a.amounts], a.page_kind.kind, a.page_kind.scores, a.page_kind.reason, a.furniture])
    with args.out.open("w", encoding="utf-8") as fh:
        for line in lines:
            text = json.dumps(line, sort_keys=True, ensure_ascii=False, default=repr)
            fh.write(text + "\n")
            digest.update(text.encode())
    print(f"{len(items)} texts, {len(lines)} result lines -> {args.out}  sha256 {digest.hexdigest()}")


if __name__ == "__main__":
    main()
