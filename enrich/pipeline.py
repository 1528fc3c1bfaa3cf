"""The spaCy pipeline: a multilingual blank `xx` pipeline with two components,
`onionwatch_classifier` (the trained offer classifier, enrich.classifier) and `onionwatch_tagger`
(rules: validated PII, lexicon terms, cues, page kind, and the offer decision that combines them).

Its thresholds are the factory's `default_config`, so they are written to (and can be changed in)
the packaged pipeline's config.cfg. Its lexicons, cues and validator tables are data: read from a
configs/tagger directory by `initialize(data_dir=...)` and saved with the pipeline as JSON.
`build()` makes the pipeline from a configs/tagger directory; `package()` writes a directory that
`spacy.load` reads back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ahocorasick
import spacy
from spacy.attrs import LOWER
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.util import filter_spans, minibatch

from enrich import classifier as _classifier
from enrich.lexicon import Term
from enrich.offers import decide
from enrich.scan import Analysis, Scanner, load_config

NAME = "onionwatch_tagger"
CLASSIFIER = _classifier.NAME

for _ext in ("ow_result", "ow_kind_hint"):
    if not Doc.has_extension(_ext):
        Doc.set_extension(_ext, default=None)

DEFAULT_SETTINGS: dict[str, Any] = {
    "min_score": 0.5,  # entities scored below this are not reported
    "context_chars": 40,  # how far before/after a PII candidate context words are looked for
    "context_boost": 0.35,  # added to a candidate's score when a context word of its label is near
    "offer_window": 160,  # chars either side of a commodity searched for sale/negative cues
    # a category is dropped when the page's negative cue weight exceeds this times its sale weight
    "page_negative_factor": 1.0,
    # a page is a dump of leaked data when it carries this many validated sensitive entities
    "dump": {
        "labels": ["CREDIT_CARD", "CREDENTIAL", "US_SSN", "IBAN_CODE", "TH_TNIN", "SG_NRIC_FIN", "MY_NRIC",
                   "ID_NIK", "VN_CCCD", "PH_SSS", "PH_TIN"],
        "min_entities": 5,
        "contact_labels": ["EMAIL_ADDRESS", "PHONE_NUMBER"],
        "min_contact_entities": 25,
    },
    "chunk_chars": 100_000,  # stretches given to the tokenizer are cut into pieces at most this long
    "spans": True,  # also put entities and evidence into doc.spans (the Tagger needs only the result)
    "weak_support_chars": 40,  # an amount this close makes a weak commodity word count
    "listing_bonus": 1.0,  # on a listing/shop page a commodity counts this much as sale evidence
    "classifier_threshold": 0.5,  # classifier score that makes a weak commodity word count
    # score that adds a category where no lexicon term fired (listing/shop pages), per category:
    # higher than an even prior because most crawled pages offer none of these; the wildlife
    # label is learnt from little text of our own, so it needs more
    "classifier_thresholds": {"drugs": 0.7, "leaked_data": 0.5, "wildlife": 0.9},
    # units that, in a title, support the classifier's category like a weak word does
    "unit_support": {"drugs": ["mg", "ug", "µg", "mcg", "g", "gr", "gram", "grams", "gramm", "oz", "lb", "lbs", "ml",
                               "pill", "pills", "tab", "tabs", "blotter", "blotters", "caps", "capsules"]},
    "classifier_threshold_other": 0.9,  # ...on forum/paste/other pages (with sale words; never news)
    # languages the classifier learnt from (market titles are English); elsewhere the rules decide
    "classifier_langs": ["en", "und"],
    "classifier_chars": 200,  # the classifier's evidence: the page's first line, at most this long
    # a page is tagged up to this many characters (cut at a line or word end before it) and its
    # result says so: {"truncated": {"chars": total, "tagged_chars": n}}. Tagging is linear, but
    # a text dense with matches costs ~2 s CPU and ~70 MB of results per MB (bench/tag_scaling.py):
    # this keeps one page within ~15 s and ~0.5 GB. Crawled pages are cut far earlier
    # (ONIONWATCH_MAX_TEXT_CHARS).
    "max_chars": 5_000_000,
}


def _cut(text: str, limit: int) -> int:
    """Where a page's tagged part ends: all of it, or at most `limit` characters ending after
    a newline (else a space) in the last 10,000 characters before the limit."""
    if len(text) <= limit:
        return len(text)
    floor = max(0, limit - 10_000)
    at = text.rfind("\n", floor, limit)
    at = text.rfind(" ", floor, limit) if at < 0 else at
    return at + 1 if at >= 0 else limit


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


class TaggerComponent:
    """Character-level scan, negated sale phrases from tokens, offer decision.

    Every page gets the character-level scan; only the stretches where tokens can change the
    outcome (negation words near a commodity) are tokenised, by the component's own tokenizer,
    so the Doc's own tokenization does not matter. Results go to doc._.ow_result (and doc.spans).
    """

    filename = "data.json"

    def __init__(self, nlp: Language, name: str, settings: Mapping[str, Any]) -> None:
        self.nlp, self.name = nlp, name
        self.settings = dict(settings)
        self.reach = int(self.settings["offer_window"])
        self.chunk_chars = int(self.settings["chunk_chars"])
        self.max_chars = int(self.settings["max_chars"])
        # the language's standard rules, whatever tokenizer makes the pipeline's Docs, on a
        # vocabulary of the component's own: the one lexeme attribute its matcher reads is LOWER,
        # so only that is computed for each new word, and the pipeline's own vocabulary need
        # compute nothing for its words (the Tagger's one-token Docs: a whole page each). Its
        # strings are freed with the pipeline's memory zone (memory_zone below).
        self.token_nlp = spacy.blank(nlp.lang)
        self.token_nlp.vocab.lex_attr_getters = {LOWER: self.token_nlp.vocab.lex_attr_getters[LOWER]}
        self.tokenizer = self.token_nlp.tokenizer
        self.data: dict[str, Any] = {}

    # -- data: initialize from a configs directory, or from the packaged pipeline ------------
    def initialize(self, get_examples: Any = None, *, nlp: Any = None, data_dir: Any = None) -> None:
        """Read lexicons, cues and tables from a configs/tagger directory; without one (e.g.
        `nlp.initialize()` for another component) the data already loaded is kept."""
        if data_dir is not None:
            self._use(load_config(data_dir))
        elif not self.data:
            raise ValueError(f"{self.name} needs data_dir: a configs/tagger directory")

    def _use(self, data: dict[str, Any]) -> None:
        self.data = data
        self.scanner = Scanner(data, self.settings)
        cues = data["cues"]
        self.negation_weight = float(cues["negative"]["weight"])
        self.matcher = Matcher(self.token_nlp.vocab)
        neg, verbs = cues["negation"]["negators"], cues["negation"]["sale_verbs"]
        # every NEGATED_SALE match has a token whose lower-case form is a sale verb, so the verb
        # is in the lower-cased stretch: a stretch without one is not tokenised (see _tag)
        self.verbs: ahocorasick.Automaton | None = None
        if verbs and not any(c in verb for verb in verbs for c in "σς"):  # see _may_negate
            self.verbs = ahocorasick.Automaton()
            for verb in verbs:
                self.verbs.add_word(verb, verb)
            self.verbs.make_automaton()
        self.matcher.add("NEGATED_SALE", [
            [{"LOWER": {"IN": neg}}, {"LOWER": {"IN": verbs}}],
            [{"LOWER": {"IN": neg}}, {}, {"LOWER": {"IN": verbs}}],
            [{"LOWER": {"IN": neg}}, {}, {}, {"LOWER": {"IN": verbs}}],
        ])
        # word lists as lower-case sets, made once (offers.decide would make them for every page)
        words = {"ambiguous": cues["ambiguous"]["surfaces"], "descriptive": cues["sale"].get("descriptive", []),
                 "sold_status": cues["negative"].get("sold_status", [])}
        self.decide_settings = {**self.settings, **{key: frozenset(w.lower() for w in ws) for key, ws in words.items()}}

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / self.filename).write_text(json.dumps(self.data, ensure_ascii=False), encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> TaggerComponent:
        self._use(json.loads((Path(path) / self.filename).read_text(encoding="utf-8")))
        return self

    # -- running -----------------------------------------------------------------------------
    @contextmanager
    def memory_zone(self, mem: Any = None) -> Iterator[Any]:
        """`nlp.memory_zone()` enters this too: the token pass's strings leave with the batch's."""
        with self.token_nlp.vocab.memory_zone(mem) as zone:
            yield zone

    def __call__(self, doc: Doc) -> Doc:
        return self._tag([doc])[0]

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        for batch in minibatch(docs, batch_size):
            yield from self._tag(batch)

    def decide(self, analysis: Analysis, scores: dict[str, float] | None = None, model_version: str | None = None) -> dict[str, Any]:
        return decide(analysis, self.decide_settings, scores, model_version)

    def _tag(self, docs: list[Doc]) -> list[Doc]:
        texts = [doc.text for doc in docs]  # Doc.text is rebuilt (decoded from the vocab) on every call
        exts = [doc._ for doc in docs]  # `doc._` makes a new accessor object on every call
        cuts = [_cut(text, self.max_chars) for text in texts]
        analyses = self.scanner.scan_many([text[:cut] if cut < len(text) else text for text, cut in zip(texts, cuts)], [ext.ow_kind_hint for ext in exts])
        pieces = [
            (a, lo + off, piece)
            for a in analyses
            for lo, hi in a.token_windows(self.reach)
            if self._may_negate(a.text[lo:hi])
            for off, piece in _chunks(a.text[lo:hi], self.chunk_chars)
        ]
        for (analysis, offset, _), piece in zip(pieces, self.tokenizer.pipe(p for _, _, p in pieces)):
            analysis.negations += self._negations(piece, offset)
        for doc, ext, text, analysis, cut in zip(docs, exts, texts, analyses, cuts):
            result = self.decide(analysis, ext.ow_cats, ext.ow_model_version)
            if cut < len(text):
                result["truncated"] = {"chars": len(text), "tagged_chars": cut}
            ext.ow_result = result
            if self.settings["spans"]:
                doc.spans["ow_entities"] = [s for e in result["entities"] if (s := doc.char_span(e["start"], e["end"], e["label"], alignment_mode="expand"))]
                doc.spans["ow_evidence"] = [s for e in result["evidence"] if (s := doc.char_span(e["start"], e["end"], e["kind"], alignment_mode="expand"))]
        return docs

    def _may_negate(self, stretch: str) -> bool:
        """A sale verb occurs in the stretch (lower-cased): without one the negation matcher
        cannot match there. Tokenising a stretch costs far more than this look (new strings in
        each batch's memory zone); ~80% of the stretches on the speed bench have no verb.
        Python lower-cases characters one by one, except a capital sigma by its context; no verb
        holds a sigma, so a token's lower-case text is in the stretch's lower-case text."""
        return self.verbs is None or next(self.verbs.iter(stretch.lower()), None) is not None

    def _negations(self, piece: Doc, offset: int) -> list[Term]:
        """Negated sale phrases ("we do not sell ivory", "không bán"), offsets into the page."""
        spans = filter_spans([piece[s:e] for _, s, e in self.matcher(piece)])
        return [Term("negative_cue", None, sp.text, sp.start_char + offset, sp.end_char + offset, self.negation_weight) for sp in spans]


@Language.factory(NAME, default_config=DEFAULT_SETTINGS)
def make_tagger(
    nlp: Language, name: str, min_score: float, context_chars: int, context_boost: float, offer_window: int,
    page_negative_factor: float, dump: dict[str, Any], chunk_chars: int, spans: bool, weak_support_chars: int,
    listing_bonus: float, classifier_threshold: float, classifier_thresholds: dict[str, float],
    unit_support: dict[str, list[str]], classifier_threshold_other: float, classifier_langs: list[str],
    classifier_chars: int, max_chars: int,
) -> TaggerComponent:
    return TaggerComponent(nlp, name, {
        "min_score": min_score, "context_chars": context_chars, "context_boost": context_boost,
        "offer_window": offer_window, "page_negative_factor": page_negative_factor, "dump": dump,
        "chunk_chars": chunk_chars, "spans": spans, "weak_support_chars": weak_support_chars,
        "listing_bonus": listing_bonus, "classifier_threshold": classifier_threshold,
        "classifier_thresholds": classifier_thresholds, "unit_support": unit_support,
        "classifier_threshold_other": classifier_threshold_other, "classifier_langs": classifier_langs,
        "classifier_chars": classifier_chars, "max_chars": max_chars,
    })


def build(config_dir: str | Path, config: Mapping[str, Any] | None = None) -> Language:
    """A ready pipeline from a configs/tagger directory and the shipped classifier model.

    `config` overrides spaCy config values, e.g. {"components": {"onionwatch_tagger": {"min_score": 0.6}}};
    {"components": {"onionwatch_classifier": {"model": ""}}} gives the rules alone.
    """
    overrides = dict(config or {})
    nlp = spacy.blank("xx", config={"nlp": overrides["nlp"]} if "nlp" in overrides else {})
    nlp.add_pipe(CLASSIFIER, config=overrides.get("components", {}).get(CLASSIFIER, {}))
    nlp.add_pipe(NAME, config=overrides.get("components", {}).get(NAME, {}))
    nlp.get_pipe(NAME).initialize(data_dir=config_dir)
    return nlp


def package(config_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the pipeline built from config_dir as a spacy.load-able directory."""
    nlp = build(config_dir)
    nlp.to_disk(out_dir)
    return Path(out_dir)
