"""Offer tagging measured on data from outside: cross-corpus (train on one market, test on
another), the wildlife web set, and hard negatives — rules only, classifier only, combined.

Run:  .venv/bin/python bench/tagger_corpus.py          # once: builds bench/out/tagger-corpus
      .venv/bin/python bench/train_tagger.py           # or use the shipped enrich/models/offers
      .venv/bin/python bench/tagger_eval.py [--model enrich/models/offers]

Sets:
  dream        Dream Market 2016-17 titles (never trained on; the classifier saw Agora 2014)
  dream-pages  the same listings as title + description (where the RDF kept a description)
  agora-dev    Agora March 2014 titles (same market as training, other month: within-market)
  wildlife-web excerpts of public web pages about wildlife products (if the private cache exists),
               also split by site: -dev (read while developing) and one row per unread held-out
               batch, e.g. -heldout2, -heldout5 (see bench/data/tagger/wildlife_web.sources.yaml)
  hard-neg     tests/data/tagger/hard_negatives.yaml + paragraphs of the seed reports +
               the non-offers of tests/data/tagger/labelled.yaml: must stay untagged
Systems: rules (classifier off), classifier (score ≥ its threshold, text alone), combined (the
Tagger as shipped: rules + page kind + classifier).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from enrich import Tagger

CATEGORIES = ("drugs", "leaked_data", "wildlife")
TESTS = ROOT / "tests" / "data" / "tagger"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def prf(gold: list[set[str]], pred: list[set[str]], label: str) -> tuple[float, float, float, int, int, int]:
    tp = sum(1 for g, p in zip(gold, pred) if label in g and label in p)
    fp = sum(1 for g, p in zip(gold, pred) if label not in g and label in p)
    fn = sum(1 for g, p in zip(gold, pred) if label in g and label not in p)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp, fp, fn


def sets(corpus: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    dream_path = corpus / "dream.jsonl"
    dream = read_jsonl(dream_path) if dream_path.exists() else read_jsonl(TESTS / "dream_market" / "listings.jsonl")
    out["dream"] = dream
    out["dream-pages"] = [
        {**r, "text": f"{r['text']}\n\n{r['meta']['description']}"} for r in dream if len(r["meta"].get("description", "")) > 40
    ]
    if (corpus / "agora.jsonl").exists():
        out["agora-dev"] = [r for r in read_jsonl(corpus / "agora.jsonl") if r["split"] == "dev"]
    if (corpus / "wildlife_web.jsonl").exists():
        web = read_jsonl(corpus / "wildlife_web.jsonl")
        if web:
            out["wildlife-web"] = web
            # by site: `dev` pages were read while the rules were written; `heldoutN` pages were
            # not, until a batch was measured and then read (`heldoutN-read`, counted as dev)
            def part(r: dict[str, Any]) -> str:
                split = r["meta"].get("web_split", "dev")
                return split if split.startswith("heldout") and not split.endswith("-read") else "dev"
            for name in sorted({part(r) for r in web}, key=lambda n: (n != "dev", n)):  # each unread batch apart
                out[f"wildlife-web-{name}"] = [r for r in web if part(r) == name]
    out["hard-neg"] = hard_negatives(corpus)
    return out


def hard_negatives(corpus: Path) -> list[dict[str, Any]]:
    """The texts that must stay untagged: hard_negatives.yaml, the labelled set's non-offers and
    paragraphs of the seed reports (when the corpus has them)."""
    negatives = [{"text": r["text"], "labels": [], "lang": r["lang"]} for r in yaml.safe_load((TESTS / "hard_negatives.yaml").read_text(encoding="utf-8"))]
    negatives += [{"text": r["text"], "labels": [], "lang": r["lang"]} for r in yaml.safe_load((TESTS / "labelled.yaml").read_text(encoding="utf-8")) if not r["categories"]]
    if (corpus / "seeds.jsonl").exists():
        negatives += read_jsonl(corpus / "seeds.jsonl")
    return negatives


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=HERE / "out" / "tagger-corpus")
    parser.add_argument("--model", default="offers", help="classifier model (name under enrich/models or a path)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    combined = Tagger.load(classifier=args.model)
    rules = Tagger.load(classifier="")
    clf = combined.classifier
    threshold = combined.core.settings["classifier_threshold"]
    print(f"model {clf.model_version}  (classifier-only threshold {threshold})\n")
    figures: dict[str, Any] = {"model_version": clf.model_version, "sets": {}}
    print("| set | category | n | rules P / R / F1 | classifier P / R / F1 | combined P / R / F1 |")
    print("|---|---|---|---|---|---|")
    for name, rows in sets(args.corpus).items():
        texts = [r["text"] for r in rows]
        gold = [set(r["labels"]) for r in rows]
        preds = {
            "rules": [set(r["categories"]) for r in rules.tag_many(texts)],
            "classifier": [{c for c, s in scores.items() if s >= threshold} for scores in clf.scores(texts)],
            "combined": [set(r["categories"]) for r in combined.tag_many(texts)],
        }
        figures["sets"][name] = {}
        if name == "hard-neg":
            tagged = {system: sum(1 for p in pred if p) for system, pred in preds.items()}
            figures["sets"][name] = {"n": len(rows), "tagged": tagged}
            print(f"| {name} | any (must be 0) | {len(rows)} | {tagged['rules']} tagged | {tagged['classifier']} tagged | {tagged['combined']} tagged |")
            continue
        for category in CATEGORIES:
            n = sum(1 for g in gold if category in g)
            if not n:
                continue
            cells = []
            for system in ("rules", "classifier", "combined"):
                p, r, f, tp, fp, fn = prf(gold, preds[system], category)
                figures["sets"][name].setdefault(category, {})[system] = {"p": p, "r": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}
                cells.append(f"{p:.2f} / {r:.2f} / **{f:.2f}**")
            print(f"| {name} | {category} | {n}/{len(rows)} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
