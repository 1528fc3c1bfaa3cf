"""Accuracy: per-label P/R/F1 on presidio-research's synthetic PII set, onionwatch vs Presidio in
the same run, and page-category accuracy on the project's own labelled offer/non-offer set.

Run:  bench/setup_tag_bench.sh && bench/.venv-presidio/bin/python bench/tag_accuracy.py
(Without Presidio installed, only the onionwatch columns are printed.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from enrich import Tagger  # noqa: E402

LABELS = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN"]
SYNTH = HERE / "data" / "tagger" / "presidio_synth_dataset_v2.json"
LABELLED = HERE.parent / "tests" / "data" / "tagger" / "labelled.yaml"


def score(gold: list[list[tuple]], pred: list[list[tuple]]) -> dict[str, tuple[float, float, float, int]]:
    """Span match = same label and overlapping characters; each gold span is matched once."""
    tp, fp, fn = Counter(), Counter(), Counter()
    for g_spans, p_spans in zip(gold, pred):
        unmatched = list(g_spans)
        for label, s, e in p_spans:
            hit = next((g for g in unmatched if g[0] == label and g[1] < e and s < g[2]), None)
            if hit:
                tp[label] += 1
                unmatched.remove(hit)
            else:
                fp[label] += 1
        for label, _, _ in unmatched:
            fn[label] += 1
    out = {}
    for label in LABELS:
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[label] = (p, r, f, tp[label] + fn[label])
    return out


def synth_table(with_ner: bool) -> str:
    rows = json.loads(SYNTH.read_text())
    texts = [r["full_text"] for r in rows]
    gold = [[(s["entity_type"], s["start_position"], s["end_position"]) for s in r["spans"] if s["entity_type"] in LABELS] for r in rows]
    systems: dict[str, list[list[tuple]]] = {}
    tagger = Tagger.load()
    systems["onionwatch"] = [[(e["label"], e["start"], e["end"]) for e in res["entities"] if e["label"] in LABELS] for res in tagger.tag_many(texts)]
    try:
        import tag_presidio
    except ImportError:
        tag_presidio = None
    variants = [("presidio (no NER)", False)]
    if tag_presidio and with_ner and tag_presidio.small_model_available():
        variants.append(("presidio (+small model)", True))
    for name, ner in variants if tag_presidio else []:
        try:
            engine = tag_presidio.analyzer(ner=ner)
        except ImportError:
            break
        systems[name] = [[(x.entity_type, x.start, x.end) for x in engine.analyze(t, language="en", entities=LABELS)] for t in texts]
    scores = {name: score(gold, pred) for name, pred in systems.items()}
    head = "| label | n | " + " | ".join(f"{n} P / R / F1" for n in scores) + " |"
    lines = [head, "|" + "---|" * (2 + len(scores))]
    for label in LABELS:
        cells = [f"{s[label][0]:.2f} / {s[label][1]:.2f} / **{s[label][2]:.2f}**" for s in scores.values()]
        lines.append(f"| {label} | {next(iter(scores.values()))[label][3]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def labelled_table() -> str:
    rows = yaml.safe_load(LABELLED.read_text(encoding="utf-8"))
    tagger = Tagger.load()
    results = tagger.tag_many([r["text"] for r in rows])
    by_lang: dict[str, Counter] = {}
    for row, res in zip(rows, results):
        c = by_lang.setdefault(row["lang"], Counter())
        c["n"] += 1
        c["pages_ok"] += sorted(res["categories"]) == sorted(row["categories"])
        c["lang_ok"] += res["lang"] == row["lang"]
        offer = bool(row["categories"])
        c["offers"] += offer
        c["offers_found"] += offer and bool(res["categories"])
        c["negatives"] += not offer
        c["false_offers"] += (not offer) and bool(res["categories"])
    lines = ["| lang | pages | exact categories | offers found | non-offers tagged | language right |", "|---|---|---|---|---|---|"]
    total = Counter()
    for lang, c in sorted(by_lang.items()) + [("all", None)]:
        c = c or total
        lines.append(f"| {lang} | {c['n']} | {c['pages_ok']}/{c['n']} | {c['offers_found']}/{c['offers']} | {c['false_offers']}/{c['negatives']} | {c['lang_ok']}/{c['n']} |")
        if lang != "all":
            total.update(c)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-ner", action="store_true", help="skip Presidio with the small spaCy model")
    args = parser.parse_args()
    print("## PII on presidio-research synth_dataset_v2 (1,500 sentences)\n")
    print(synth_table(with_ner=not args.no_ner))
    print("\n## Offer categories on tests/data/tagger/labelled.yaml\n")
    print(labelled_table())


if __name__ == "__main__":
    main()
