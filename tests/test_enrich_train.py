"""Training the offer classifier is reproducible and versioned by what it was trained on."""

import hashlib
from pathlib import Path

import spacy

from enrich import Tagger
from enrich.classifier import OfferClassifier, describe
from enrich.train import train_textcat

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "tagger" / "textcat_bow.cfg"
RECORDS = [
    {"text": t, "labels": labels}
    for t, labels in [
        ("Cocaine 1g pure", ["drugs"]), ("MDMA crystals 5g", ["drugs"]), ("Xanax 2mg x 30", ["drugs"]),
        ("Heroin No.4 10g", ["drugs"]), ("US fullz with SSN", ["leaked_data"]), ("Bank logins UK", ["leaked_data"]),
        ("Rhino horn 200g", ["wildlife"]), ("Pangolin scales 1kg", ["wildlife"]), ("Python ebook", []),
        ("Rolex replica", []), ("VPN 1 year", []), ("Gold coin 1oz", []),
    ]
] * 3
FAST = {"training.max_steps": 60, "training.eval_frequency": 20}


def _weights(path: Path) -> str:
    return hashlib.sha256((path / "textcat_multilabel" / "model").read_bytes()).hexdigest()


def test_same_data_config_and_seed_give_the_same_model_and_version(tmp_path):
    a = train_textcat(RECORDS, RECORDS[:12], tmp_path / "a", CONFIG, seed=3, overrides=FAST)
    b = train_textcat(RECORDS, RECORDS[:12], tmp_path / "b", CONFIG, seed=3, overrides=FAST)
    c = train_textcat(RECORDS, RECORDS[:12], tmp_path / "c", CONFIG, seed=4, overrides=FAST)
    assert a["onionwatch"]["model_version"] == b["onionwatch"]["model_version"] != c["onionwatch"]["model_version"]
    assert _weights(tmp_path / "a") == _weights(tmp_path / "b")
    scores = OfferClassifier(spacy.blank("xx"), "c", str(tmp_path / "a"), 200, 8).scores(["Cocaine 2g pure"])
    assert set(scores[0]) == {"drugs", "leaked_data", "wildlife"}


def test_the_shipped_model_is_small_and_its_version_is_on_every_result():
    info = describe("offers")
    assert info["model_version"].startswith("offers-") and info["size_bytes"] < 8 * 1024 * 1024
    assert info["config"] == "textcat_bow.cfg" and info["seed"] == 0
    results = Tagger.load().tag_many(["ARCTIC WOLF HEROIN 0.5G AAA+", "Weather today: sunny"])
    assert all(r["model_version"] == info["model_version"] for r in results)
    assert Tagger.load(classifier="").tag("ARCTIC WOLF HEROIN 0.5G AAA+")["model_version"] is None
