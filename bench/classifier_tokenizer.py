"""What dropping the offer classifier's whitespace special cases saves, on the speed bench's
corpus (whose pages repeat pieces, so spaCy's word cache hits often) and on texts that do not
repeat: the multi-line texts of bench/tag_outputs.py other than the speed corpus and its
mutated copies (Dream/Agora title + description pages, labelled pages, hard negatives, synthetic
PII sentences), in one cold pass each, as a crawl meets pages. Same tokens either way
(tests/test_enrich_tagger.py); this only measures the time. Each page's first max_chars chars.

Run:  .venv/bin/python bench/classifier_tokenizer.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import spacy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import tag_outputs
import tag_speed

from enrich import Tagger
from enrich.classifier import model_path, without_whitespace_rules


def tokenizer(drop: bool) -> spacy.tokenizer.Tokenizer:
    """The shipped model's tokenizer, fresh (empty cache), with or without the whitespace rules."""
    nlp = spacy.load(model_path("offers"))
    nlp.vocab.lex_attr_getters = {}
    if drop:
        nlp.tokenizer.rules = without_whitespace_rules(nlp.tokenizer.rules)
    return nlp.tokenizer


def cold_pass(drop: bool, heads: list[str]) -> float:
    tok = tokenizer(drop)
    start = time.process_time()
    for i in range(0, len(heads), 64):
        list(tok.pipe(heads[i : i + 64]))
    return time.process_time() - start


def main() -> None:
    chars = Tagger.load().classifier.max_chars  # the head the shipped classifier reads
    bench = [t[:chars] for t in tag_speed.corpus(2000)]
    unique = list(dict.fromkeys(t[:chars] for source, t in tag_outputs.texts() if source not in ("bench", "mutated")))
    sets = {"speed bench corpus (2,000 pages, pieces repeat)": bench,
            "non-repeating multi-line texts": [t for t in unique if "\n" in t.strip()],
            "non-repeating one-line texts": [t for t in unique if "\n" not in t.strip()]}
    print("| texts | n | chars | with whitespace rules (s CPU) | without | without ÷ with |")
    print("|---|---|---|---|---|---|")
    for label, heads in sets.items():
        with_rules = min(cold_pass(False, heads) for _ in range(3))
        without = min(cold_pass(True, heads) for _ in range(3))
        print(f"| {label} | {len(heads)} | {sum(map(len, heads))} | {with_rules:.3f} | {without:.3f} | {without / with_rules:.2f} |")


if __name__ == "__main__":
    main()
