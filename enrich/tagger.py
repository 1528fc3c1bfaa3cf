"""The Tagger: what the crawler and `onionwatch tag` call.

It runs the pipeline with `nlp.pipe` and returns each Doc's result. It needs results, not word
tokens, so its pipeline makes one-token Docs (the component tokenises only the stretches it
needs) and does not put spans on them; both are spaCy config overrides at load time, so the
pipeline on disk is the same one `spacy.load` gives anybody else.
"""

from __future__ import annotations

import itertools
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
ZONE_DOCS = 4096  # pages per spaCy memory zone: their strings leave the vocabulary afterwards


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

    def from_disk(self, path: Any, **kwargs: Any) -> "PageTokenizer":
        return self

    def to_bytes(self, **kwargs: Any) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: Any) -> "PageTokenizer":
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

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Tagger":
        """From a packaged pipeline directory (has config.cfg) or a configs/tagger directory
        (default: the one in force, see `configs.path`)."""
        source = Path(path) if path else configs.path("tagger")
        if (source / "config.cfg").exists():
            nlp = spacy.load(source, config=RESULTS_ONLY)
        else:
            nlp = pipeline.build(source, config=RESULTS_ONLY)
        return cls(nlp, source)

    def tag(self, text: str) -> dict[str, Any]:
        return self.tag_many([text])[0]

    def tag_many(self, texts: Iterable[str], batch_size: int = 64, n_process: int = 1) -> list[dict[str, Any]]:
        """Results in input order; n_process > 1 spreads batches over worker processes."""
        return list(self.iter_tag(texts, batch_size, n_process))

    def iter_tag(self, texts: Iterable[str], batch_size: int = 64, n_process: int = 1) -> Iterator[dict[str, Any]]:
        """Lazily, in input order. Every ZONE_DOCS pages run in an `nlp.memory_zone()`, so the
        vocabulary does not grow with the stream (worker processes last one zone)."""
        it = iter(texts)
        while True:
            done = 0
            with self.nlp.memory_zone():
                for doc in self.nlp.pipe(itertools.islice(it, ZONE_DOCS), batch_size=batch_size, n_process=n_process):
                    done += 1
                    yield doc._.ow_result
            if done < ZONE_DOCS:
                return
