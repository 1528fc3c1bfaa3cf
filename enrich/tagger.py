"""The Tagger: what the crawler and `onionwatch tag` call.

Every page gets the character-level scan; only the stretches where token context can change the
outcome (negation words near a commodity) go through spaCy, in chunks below its length limit.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from enrich import pipeline
from enrich.lexicon import Term

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "tagger"


def _chunks(text: str, size: int) -> Iterator[tuple[int, str]]:
    """(offset, piece) with pieces ≤ size, cut after a newline or space where possible."""
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            end = cut + 1 if cut > start else end
        yield start, text[start:end]
        start = end


class Tagger:
    def __init__(self, nlp: Language, source: Path) -> None:
        self.source = source
        self._use(nlp)

    def _use(self, nlp: Language) -> None:
        self.nlp = nlp
        self.core: pipeline.TaggerComponent = nlp.get_pipe("onionwatch_tagger")
        settings = self.core.data["tagger"]
        self.chunk_chars = min(int(settings["chunk_chars"]), nlp.max_length)
        self.max_vocab = int(settings["max_vocab_strings"])
        self.reach = int(settings["offer_window"])

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Tagger":
        """From a packaged pipeline directory (has config.cfg) or a configs/tagger directory."""
        source = Path(path) if path else DEFAULT_CONFIG
        return cls(cls._open(source), source)

    @staticmethod
    def _open(source: Path) -> Language:
        return spacy.load(source) if (source / "config.cfg").exists() else pipeline.build(source)

    def tag(self, text: str) -> dict[str, Any]:
        return self.tag_many([text])[0]

    def tag_many(self, texts: Iterable[str], batch_size: int = 64, n_process: int = 1) -> list[dict[str, Any]]:
        """Results in input order; n_process > 1 spreads batches over worker processes."""
        return list(self.iter_tag(texts, batch_size, n_process))

    def iter_tag(self, texts: Iterable[str], batch_size: int = 64, n_process: int = 1) -> Iterator[dict[str, Any]]:
        batches = _batched(texts, batch_size)
        if n_process <= 1:
            for batch in batches:
                yield from self._tag_batch(batch)
            return
        ctx = multiprocessing.get_context("fork")
        # workers are recycled so their spaCy vocabularies stay bounded on long runs
        with ctx.Pool(n_process, initializer=_init_worker, initargs=(str(self.source),), maxtasksperchild=200) as pool:
            for results in pool.imap(_worker_batch, batches, chunksize=1):
                yield from results

    def _tag_batch(self, texts: list[str]) -> list[dict[str, Any]]:
        analyses = [self.core.scanner.scan(t) for t in texts]
        pieces = [
            (a, lo + off, piece)
            for a in analyses
            for lo, hi in a.token_windows(self.reach)
            for off, piece in _chunks(a.text[lo:hi], self.chunk_chars)
        ]
        if pieces:
            docs = self.nlp.pipe((p for _, _, p in pieces), batch_size=len(pieces), disable=["onionwatch_tagger"])
            for (analysis, offset, _), doc in zip(pieces, docs):
                analysis.negations += [Term(t.kind, t.category, t.name, t.start + offset, t.end + offset, t.weight) for t in doc._.ow_negations]
        results = [self.core.decide(a) for a in analyses]
        if len(self.nlp.vocab.strings) > self.max_vocab:
            self._use(self._open(self.source))
        return results


def _batched(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(texts)
    while batch := list(itertools.islice(it, max(1, size))):
        yield batch


_WORKER: Tagger | None = None


def _init_worker(source: str) -> None:
    global _WORKER
    _WORKER = Tagger.load(source)


def _worker_batch(texts: list[str]) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return _WORKER._tag_batch(texts)
