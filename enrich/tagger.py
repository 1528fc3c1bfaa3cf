"""The Tagger: what the crawler and `onionwatch tag` call.

It runs the pipeline with `nlp.pipe` and returns each Doc's result. It needs results, not word
tokens, so its pipeline makes one-token Docs (the component tokenises only the stretches it
needs) and does not put spans on them; both are spaCy config overrides at load time, so the
pipeline on disk is the same one `spacy.load` gives anybody else.
"""

from __future__ import annotations

import itertools
import multiprocessing
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

import configs
from enrich import pipeline

PAGE_TOKENIZER = "onionwatch.page_tokenizer.v1"
# the Tagger's run-time overrides of the packaged config
RESULTS_ONLY: dict[str, Any] = {
    "nlp": {"tokenizer": {"@tokenizers": PAGE_TOKENIZER}},
    "components": {pipeline.NAME: {"spans": False}},
}


class PageTokenizer:
    """The whole page as one token: the Tagger's Docs carry the text, not a tokenization."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        return Doc(self.vocab, words=[text], spaces=[False]) if text else Doc(self.vocab)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        return map(self, texts)

    # nothing to save: `spacy.load` with RESULTS_ONLY still calls these for the tokenizer
    def to_disk(self, path: Any, **kwargs: Any) -> None:
        pass

    def from_disk(self, path: Any, **kwargs: Any) -> PageTokenizer:
        return self

    def to_bytes(self, **kwargs: Any) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: Any) -> PageTokenizer:
        return self


@spacy.registry.tokenizers(PAGE_TOKENIZER)
def make_page_tokenizer() -> Any:
    return lambda nlp: PageTokenizer(nlp.vocab)


class Tagger:
    def __init__(self, nlp: Language, source: Path) -> None:
        self.nlp = nlp
        self.source = source
        self.core: pipeline.TaggerComponent = nlp.get_pipe(pipeline.NAME)
        self.reach = self.core.reach
        # one-token Docs: spaCy's length guard protects parser/NER memory, and the token pass
        # works on pieces of at most chunk_chars
        nlp.max_length = sys.maxsize
        # results-only Docs: no lexeme attribute of the page's one token is read (the negation
        # matcher reads LOWER from the component's own vocabulary). spaCy computes every getter
        # (shape, like_url, lower…) for each new string, here the whole page, in each batch's
        # memory zone: ~8% of tagging time with all of them, ~1% with LOWER alone.
        nlp.vocab.lex_attr_getters = {}

    @classmethod
    def load(cls, path: str | Path | None = None, classifier: str | None = None) -> Tagger:
        """From a packaged pipeline directory (has config.cfg) or a configs/tagger directory
        (default: the one in force, see `configs.path`). `classifier`: the offer classifier model
        (a name under enrich/models or a path; "" = rules only; default: the shipped one)."""
        source = Path(path) if path else configs.path("tagger")
        config = RESULTS_ONLY
        if classifier is not None:
            config = {**RESULTS_ONLY, "components": {**RESULTS_ONLY["components"], pipeline.CLASSIFIER: {"model": classifier}}}
        if (source / "config.cfg").exists():
            nlp = spacy.load(source, config=config)
            if classifier == "" and pipeline.CLASSIFIER in nlp.pipe_names:
                nlp.remove_pipe(pipeline.CLASSIFIER)
        else:
            nlp = pipeline.build(source, config=config)
        return cls(nlp, source)

    @property
    def classifier(self) -> Any:
        """The offer classifier component (its model_version, scores()); None if absent."""
        return self.nlp.get_pipe(pipeline.CLASSIFIER) if pipeline.CLASSIFIER in self.nlp.pipe_names else None

    @property
    def model_version(self) -> str | None:
        clf = self.classifier
        return clf.model_version if clf is not None else None

    def tag(self, text: str, kind: str | None = None) -> dict[str, Any]:
        """`kind`: the page kind when the caller knows it (listing, shop, forum, paste, news)."""
        return self.tag_many([(text, kind)] if kind else [text])[0]

    def tag_many(self, texts: Iterable[str | tuple[str, str | None]], batch_size: int = 64, n_process: int = 1) -> list[dict[str, Any]]:
        """Results in input order; n_process > 1 spreads batches over worker processes.
        Items are texts or (text, page-kind hint) pairs."""
        return list(self.iter_tag(texts, batch_size, n_process))

    def iter_tag(self, texts: Iterable[str | tuple[str, str | None]], batch_size: int = 64, n_process: int = 1) -> Iterator[dict[str, Any]]:
        """Lazily, in input order; n_process > 1 spreads batches over forked worker processes."""
        batches = _batched(texts, batch_size)
        if n_process <= 1:
            for batch in batches:
                yield from self._tag_batch(batch)
            return
        # Workers send back result dicts. spaCy's own n_process sends whole Docs back as msgpack,
        # and srsly looks up its msgpack extensions (Python entry points) on every Doc: measured
        # 4-8x slower per core here.
        ctx = multiprocessing.get_context("fork")  # the workers inherit this Tagger, nothing is reloaded
        with ctx.Pool(n_process, initializer=_init_worker, initargs=(self,)) as pool:
            for results in pool.imap(_worker_batch, batches, chunksize=1):
                yield from results

    def _tag_batch(self, texts: list[Any]) -> list[dict[str, Any]]:
        """One batch through nlp.pipe inside a memory zone: the strings of these pages leave the
        vocabulary afterwards, so a long run's memory stays flat without reloading anything."""
        with self.nlp.memory_zone():
            if any(isinstance(t, tuple) for t in texts):
                docs = []
                for item in texts:
                    text, hint = item if isinstance(item, tuple) else (item, None)
                    doc = self.nlp.make_doc(text)
                    doc._.ow_kind_hint = hint
                    docs.append(doc)
                return [doc._.ow_result for doc in self.nlp.pipe(docs, batch_size=len(docs))]
            return [doc._.ow_result for doc in self.nlp.pipe(texts, batch_size=len(texts))]


def _batched(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(texts)
    while batch := list(itertools.islice(it, max(1, size))):
        yield batch


_WORKER: Tagger | None = None  # a worker process's Tagger (inherited from the parent by fork)


def _init_worker(tagger: Tagger) -> None:
    global _WORKER
    _WORKER = tagger


def _worker_batch(texts: list[str]) -> list[dict[str, Any]]:
    assert _WORKER is not None
    return _WORKER._tag_batch(texts)
