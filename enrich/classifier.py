"""The offer classifier as a pipeline component beside the rules.

A spaCy `textcat_multilabel` (trained by enrich.train from market listings, see
bench/README-tagging.md) scores each page's head for drugs, leaked_data and wildlife. The rules
keep the evidence spans and the precision on reporting text; these scores give recall on short,
cue-less listing titles. The component tokenises only the first `max_chars` characters with the
model's own tokenizer, so the pipeline's Docs can stay one token long.

The weights ship as package data in enrich/models/<name>/; the model's version (a digest of its
training data, config and seed) goes onto every tagging result.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

MODELS = Path(__file__).resolve().parent / "models"
NAME = "onionwatch_classifier"

for _ext in ("ow_cats", "ow_model_version"):
    if not Doc.has_extension(_ext):
        Doc.set_extension(_ext, default=None)


def model_path(model: str | None) -> Path | None:
    """A model name (a directory under enrich/models) or a path; None/"" = no classifier."""
    if not model:
        return None
    path = Path(model)
    return path if path.is_absolute() or path.exists() else MODELS / model


def without_whitespace_rules(rules: dict[str, Any] | None) -> dict[str, Any]:
    """The tokenizer's special cases minus the whitespace ones (" ", "\\t", "\\n", "\\xa0").

    They give the same single token the affix rules give (tests/test_enrich_tagger.py compares
    the tokens), but a special case hit stops spaCy's tokenizer from caching any later word of
    that text (spaCy issue #1250's guard): each page's words after its first line break were
    split afresh on every call, ~half of the classifier's tokenising time."""
    return {orth: value for orth, value in (rules or {}).items() if not orth.isspace()}


class OfferClassifier:
    # The model's vocabulary is its own, outside the pipeline's memory zone, and a zone per batch
    # would cost ~25% of tagging (every word re-tokenised and re-created each batch). So words
    # stay, and after this many new strings the model is loaded afresh: memory stays bounded
    # (~30 MB of strings at most) and the scores are the same (BOW hashes the token text).
    max_new_strings = 200_000

    def __init__(self, nlp: Language, name: str, model: str | None, max_chars: int, batch_size: int) -> None:
        self.name, self.max_chars, self.batch_size = name, int(max_chars), int(batch_size)
        self.model_name = model
        self.textcat_nlp: Language | None = None
        self.model_version: str | None = None
        path = model_path(model)
        if path is not None and (path / "config.cfg").exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        self.textcat_nlp = spacy.load(path)
        self.model_path = path
        self.model_version = self.textcat_nlp.meta.get("onionwatch", {}).get("model_version") or f"{path.name}-unversioned"
        model = self.textcat_nlp.config["components"].get("textcat_multilabel", {}).get("model", {})
        if str(model.get("@architectures", "")).startswith("spacy.TextCatBOW"):
            # bag-of-words reads each token's ORTH and nothing else: spaCy need not compute the
            # other lexeme attributes (shape, like_url, norm…) for every new word
            self.textcat_nlp.vocab.lex_attr_getters = {}
            # ...and only the tokens' text: the whitespace rules' other attributes (a NORM) are unread
            self.textcat_nlp.tokenizer.rules = without_whitespace_rules(self.textcat_nlp.tokenizer.rules)
        self.strings_limit = len(self.textcat_nlp.vocab.strings) + self.max_new_strings

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.textcat_nlp.get_pipe("textcat_multilabel").labels) if self.textcat_nlp else ()

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        """Category scores for each text's first max_chars characters ({} without a model)."""
        if self.textcat_nlp is None:
            return [{} for _ in texts]
        if len(self.textcat_nlp.vocab.strings) > self.strings_limit:
            self._load(self.model_path)
        docs = self.textcat_nlp.pipe((t[: self.max_chars] for t in texts), batch_size=max(1, len(texts)))
        return [{k: round(float(v), 4) for k, v in d.cats.items()} for d in docs]

    def __call__(self, doc: Doc) -> Doc:
        return self._annotate([doc])[0]

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for batch in minibatch(docs, batch_size or self.batch_size):
            yield from self._annotate(list(batch))

    def _annotate(self, docs: list[Doc]) -> list[Doc]:
        for doc, cats in zip(docs, self.scores([d.text for d in docs])):
            ext = doc._  # a new accessor object on each `doc._`
            ext.ow_cats = cats
            ext.ow_model_version = self.model_version
        return docs

    # the trained model travels inside a packaged pipeline
    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "classifier.json").write_text(json.dumps({"model_version": self.model_version}), encoding="utf-8")
        if self.textcat_nlp is not None:
            target = path / "model"
            if target.exists():
                shutil.rmtree(target)
            self.textcat_nlp.to_disk(target)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> OfferClassifier:
        path = Path(path)
        if (path / "model" / "config.cfg").exists():
            self._load(path / "model")
        return self


# max_chars: the head the model reads. A crawled page's title often comes after a few lines of
# navigation, so the first line alone is not enough; tokenising is most of the classifier's cost.
# Measured against 400 (bench/tagger_eval.py, bench/tag_accuracy.py, the 183 lab pages): 300
# keeps every combined figure and every lab page's categories and page kind, with ~20% less
# classifier time; the first line alone tagged a Dream Market title + description page wrongly
# (drugs F1 1.00 -> 0.97), 200 lost a lab item page whose title follows four lines of navigation.
@Language.factory(NAME, default_config={"model": "offers", "max_chars": 300, "batch_size": 256})
def make_classifier(nlp: Language, name: str, model: str | None, max_chars: int, batch_size: int) -> OfferClassifier:
    return OfferClassifier(nlp, name, model, max_chars, batch_size)


def describe(model: str | None = "offers") -> dict[str, Any]:
    """The shipped model's meta (version, training sizes, config), for `onionwatch tagger info`."""
    path = model_path(model)
    if path is None or not (path / "meta.json").exists():
        return {}
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return {**meta.get("onionwatch", {}), "size_bytes": size, "path": str(path)}
