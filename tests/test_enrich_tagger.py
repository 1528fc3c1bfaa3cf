"""The Tagger as a whole: `onionwatch tag` end to end, packaging, chunking, processes, vocab."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

import enrich
from enrich import Tagger

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "Selling MDMA 84% 10 grams for 0.004 BTC, escrow only. contact: vend0r@proton.me",
    "Customs seized 48 kg of ivory; the suspects were arrested, police said.",
    "ขายนอแรดแท้ ราคา 50000 บาท ส่งฟรี โทร 081 234 5678",
    "出售象牙手镯，价格 2000元，包邮",
    "Bán vảy tê tê giá 5tr/kg, ship toàn quốc",
    "Jual sabu 1 gram 1,5 juta, ready stock",
]


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


def test_tag_command_keeps_order_and_offsets_index_the_input():
    lines = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(PAGES))
    proc = subprocess.run([sys.executable, "-m", "onionwatch.cli", "tag", "--batch-size", "2"], input=lines,
                          capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["id"] for o in out] == list(range(len(PAGES)))
    assert [o["categories"] for o in out] == [["drugs"], [], ["wildlife"], ["wildlife"], ["wildlife"], ["drugs"]]
    assert [o["lang"] for o in out] == ["en", "en", "th", "zh", "vi", "id"]
    email = out[0]["entities"][0]
    assert PAGES[0][email["start"] : email["end"]] == "vend0r@proton.me"
    assert "vend0r@proton.me" not in proc.stdout  # offsets only, no values in clear
    for o, text in zip(out, PAGES):
        assert all(text[e["start"] : e["end"]] == e["term"] for e in o["evidence"])


def test_packaged_pipeline_loads_with_spacy_load(tmp_path, tagger):
    enrich.package(ROOT / "configs" / "tagger", tmp_path / "pipe")
    nlp = spacy.load(tmp_path / "pipe")
    doc = nlp(PAGES[0])
    assert doc._.ow_result == tagger.tag(PAGES[0])
    assert [s.label_ for s in doc.spans["ow_entities"]] == ["EMAIL_ADDRESS"]
    assert Tagger.load(tmp_path / "pipe").tag_many(PAGES) == tagger.tag_many(PAGES)


def test_long_pages_are_chunked_below_the_spacy_limit(tagger):
    filler = "lorem ipsum dolor sit amet no problem " * 30_000  # > 1,000,000 chars
    text = filler + "We do not sell ivory. Ivory bangles price $50, shipping worldwide."
    assert len(text) > 1_000_000
    result = tagger.tag(text)
    negated = [e for e in result["evidence"] if e["kind"] == "negative_cue"]
    assert any(text[e["start"] : e["end"]] == "not sell" for e in negated)


def test_processes_give_the_same_results_in_order(tagger):
    texts = PAGES * 5
    assert tagger.tag_many(texts, batch_size=4, n_process=2) == tagger.tag_many(texts, batch_size=4)


def test_vocab_growth_is_bounded():
    """Strings of tagged pages leave the vocabulary with their spaCy memory zone (no reload)."""
    small = Tagger.load()
    pages = [" ".join(f"no w{i}x{j}" for j in range(10)) + " ivory carvings for sale " + " ".join(f"no v{i}x{j}" for j in range(10)) for i in range(5)]
    # the pipeline's vocabulary (the pages) and the tagger component's own (the token pass)
    nlp, tokens = small.nlp, small.core.token_nlp.vocab
    baseline = len(nlp.vocab.strings), len(tokens.strings)
    results = small.tag_many(pages, batch_size=2)  # three batches, three zones
    assert small.nlp is nlp and (len(nlp.vocab.strings), len(tokens.strings)) == baseline
    assert results == [small.tag(p) for p in pages] and all(r["categories"] == ["wildlife"] for r in results)
    list(nlp.pipe(pages))  # the same pages outside a memory zone: the token pass does add strings
    assert len(tokens.strings) > baseline[1] + 100 and len(nlp.vocab.strings) >= baseline[0] + len(pages)


def test_thresholds_are_the_factory_config_and_travel_in_config_cfg(tmp_path, tagger):
    enrich.package(ROOT / "configs" / "tagger", tmp_path / "pipe")
    cfg = spacy.util.load_config(tmp_path / "pipe" / "config.cfg")
    component = cfg["components"]["onionwatch_tagger"]
    assert component["factory"] == "onionwatch_tagger" and cfg["nlp"]["pipeline"] == ["onionwatch_classifier", "onionwatch_tagger"]
    assert (component["min_score"], component["offer_window"], component["dump"]["min_entities"]) == (0.5, 160, 5)
    # a setting changed the spaCy way (config override at load) changes what is reported
    strict = spacy.load(tmp_path / "pipe", config={"components": {"onionwatch_tagger": {"min_score": 0.99}}})
    assert tagger.tag(PAGES[2])["entities"] and not strict(PAGES[2])._.ow_result["entities"]


def test_default_data_is_found_at_call_time(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "configs" / "tagger", tmp_path / "tagger")
    for lexicon in (tmp_path / "tagger" / "lexicon").glob("wildlife*.yaml"):
        lexicon.write_text(lexicon.read_text(encoding="utf-8").replace("pangolin", "pangolinx"), encoding="utf-8")
    text = "Pangolin scales for sale, price $50 per kg"
    assert Tagger.load().tag(text)["categories"] == ["wildlife"]
    monkeypatch.setenv("ONIONWATCH_CONFIGS", str(tmp_path))
    assert Tagger.load().source == tmp_path / "tagger"
    assert Tagger.load().tag(text)["categories"] == []


def test_the_classifier_reads_the_page_head_only(tagger):
    """The model scores the first max_chars characters (navigation + title on a crawled page):
    what follows does not move its scores, whatever it says; the head does."""
    clf = tagger.classifier
    head = ("Dream Bazaar\nDrugs\nDigital Goods\nAsia-Pacific\nSAMPLE 0.5 gram pure COCAINE-flakes - FREE SHIPMEN\n"
            "Price\n$65.6\nSeller\ndelosmuertos\nShips from\nAustralia Europe\nShips to\nAustralia\nCategory\nDrugs\n"
            "Description\nSAMPLE 0.5 gram pure COCAINE-flakes - FREE SHIPMENT + TRACKNO + STEALTH PACKAGING\n"
            "Shipping options\n$0\ntrack&trace - 4-7 workingdays delivery\n")
    assert len(head) >= clf.max_chars == 300
    tails = ["", "fullz cvv dumps ivory rhino horn pangolin scales " * 40, "weather report " * 200]
    scores = clf.scores([head + tail for tail in tails] + [head[: clf.max_chars]])
    assert all(s == scores[0] for s in scores) and scores[0]["drugs"] >= 0.5
    other = clf.scores([head.replace("COCAINE", "Fullz CVV").replace("gram", "x")])[0]
    assert other != scores[0] and other["drugs"] < scores[0]["drugs"]


def test_the_classifier_tokenizer_without_whitespace_rules_gives_the_same_tokens(tagger):
    """The offer classifier drops its tokenizer's whitespace special cases (so spaCy keeps
    caching words after a line break): the tokens, and so the bag-of-words scores, must be
    exactly those of the model's tokenizer as trained."""
    import random

    from enrich.classifier import model_path

    trained = spacy.load(model_path("offers")).tokenizer
    ours = tagger.classifier.textcat_nlp.tokenizer
    assert any(orth.isspace() for orth in trained.rules) and not any(orth.isspace() for orth in ours.rules)
    rng = random.Random(7)
    pieces = ["\n", "\n\n", " ", "  ", "\t", "\xa0", "\r\n", "a", "Bb", "12", ".", "-", "(", ")", "$", "'", '"', "e.g.",
              ":)", "C++", "http://x.onion/a", "ü", "中文", "ขาย", "...", "1.5g", "don't", "U.S.", "—"]
    texts = PAGES + [p + "\n" + q for p in PAGES for q in PAGES]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 40))) for _ in range(5000)]
    for text in texts * 2:  # twice: the second pass reads the tokenizer's cache
        assert [t.orth_ for t in ours(text)] == [t.orth_ for t in trained(text)], repr(text)
