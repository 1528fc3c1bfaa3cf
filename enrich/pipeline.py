"""The spaCy pipeline: a multilingual blank tokenizer, a token-level negation matcher and the
tagger component. `build()` makes it from configs/tagger; `package()` writes a directory that
`spacy.load` reads back (the component data travels inside it as JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from enrich.lexicon import Term
from enrich.offers import decide
from enrich.scan import Scanner, load_config

for _name in ("ow_negations", "ow_result"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


class _DataComponent:
    """A component whose configuration is a JSON document saved with the pipeline."""

    filename = "data.json"

    def __init__(self, nlp: Language, name: str) -> None:
        self.nlp, self.name, self.data = nlp, name, {}

    def configure(self, data: dict[str, Any]) -> None:
        self.data = data
        self._setup()

    def _setup(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_disk(self, path: str | Path, *, exclude: tuple[str, ...] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / self.filename).write_text(json.dumps(self.data, ensure_ascii=False), encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: tuple[str, ...] = ()) -> "_DataComponent":
        self.configure(json.loads((Path(path) / self.filename).read_text(encoding="utf-8")))
        return self


class NegationMatcher(_DataComponent):
    """Finds negated sale phrases ("we do not sell ivory", "không bán") that need tokens."""

    def _setup(self) -> None:
        self.weight = float(self.data["weight"])
        self.matcher = Matcher(self.nlp.vocab)
        neg, verbs = self.data["negators"], self.data["sale_verbs"]
        self.matcher.add("NEGATED_SALE", [
            [{"LOWER": {"IN": neg}}, {"LOWER": {"IN": verbs}}],
            [{"LOWER": {"IN": neg}}, {}, {"LOWER": {"IN": verbs}}],
            [{"LOWER": {"IN": neg}}, {}, {}, {"LOWER": {"IN": verbs}}],
        ])

    def __call__(self, doc: Doc) -> Doc:
        spans = filter_spans([doc[s:e] for _, s, e in self.matcher(doc)])
        doc._.ow_negations = [Term("negative_cue", None, sp.text, sp.start_char, sp.end_char, self.weight) for sp in spans]
        return doc


class TaggerComponent(_DataComponent):
    """Character-level scan + offer decision; results in doc._.ow_result and doc.spans."""

    def _setup(self) -> None:
        self.scanner = Scanner(self.data)

    def __call__(self, doc: Doc) -> Doc:
        analysis = self.scanner.scan(doc.text)
        analysis.negations = doc._.ow_negations or []
        result = self.decide(analysis)
        doc._.ow_result = result
        doc.spans["ow_entities"] = [s for e in result["entities"] if (s := doc.char_span(e["start"], e["end"], e["label"], alignment_mode="expand"))]
        doc.spans["ow_evidence"] = [s for e in result["evidence"] if (s := doc.char_span(e["start"], e["end"], e["kind"], alignment_mode="expand"))]
        return doc

    def decide(self, analysis: Any) -> dict[str, Any]:
        return decide(analysis, {**self.data["tagger"], "ambiguous": self.data["cues"]["ambiguous"]["surfaces"]})


@Language.factory("onionwatch_negation")
def make_negation(nlp: Language, name: str) -> NegationMatcher:
    return NegationMatcher(nlp, name)


@Language.factory("onionwatch_tagger")
def make_tagger(nlp: Language, name: str) -> TaggerComponent:
    return TaggerComponent(nlp, name)


def build(config_dir: str | Path) -> Language:
    """A ready pipeline from a configs/tagger directory (no statistical model involved)."""
    data = load_config(config_dir)
    nlp = spacy.blank("xx")
    nlp.add_pipe("onionwatch_negation").configure({**data["cues"]["negation"], "weight": data["cues"]["negative"]["weight"]})
    nlp.add_pipe("onionwatch_tagger").configure(data)
    nlp.max_length = 1_000_000
    return nlp


def package(config_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the pipeline built from config_dir as a spacy.load-able directory."""
    nlp = build(config_dir)
    nlp.to_disk(out_dir)
    return Path(out_dir)
