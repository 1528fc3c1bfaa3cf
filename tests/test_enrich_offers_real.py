"""Offers on text nobody on the team wrote, and the behaviours that get them right.

- Dream Market 2016-17 listings (MIT, tests/data/tagger/dream_market/): the shipped classifier
  was trained on Agora 2014 only, so this is a cross-market test. The thresholds sit a little
  below the F1 measured with `bench/tagger_eval.py` (drugs 0.95, leaked_data 0.96).
- Hard negatives in every project language (tests/data/tagger/hard_negatives.yaml, never
  trained on): seizure news, harm reduction, NGO text, guides, colours, names.
"""

import json
from pathlib import Path

import pytest
import yaml

from enrich import Tagger

DATA = Path(__file__).parent / "data" / "tagger"
DREAM = [json.loads(line) for line in (DATA / "dream_market" / "listings.jsonl").read_text(encoding="utf-8").splitlines()]
HARD = yaml.safe_load((DATA / "hard_negatives.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


def f1(rows, results, category):
    tp = sum(1 for r, x in zip(rows, results) if category in r["labels"] and category in x["categories"])
    fp = sum(1 for r, x in zip(rows, results) if category not in r["labels"] and category in x["categories"])
    fn = sum(1 for r, x in zip(rows, results) if category in r["labels"] and category not in x["categories"])
    return 2 * tp / (2 * tp + fp + fn)


def test_dream_market_titles_cross_market(tagger):
    results = tagger.tag_many([r["text"] for r in DREAM])
    assert len(DREAM) == 149
    assert f1(DREAM, results, "drugs") >= 0.92
    assert f1(DREAM, results, "leaked_data") >= 0.90
    assert not any("wildlife" in x["categories"] for x in results)


def test_the_classifier_adds_recall_the_rules_alone_do_not_have(tagger):
    rules = Tagger.load(classifier="")
    texts = [r["text"] for r in DREAM]
    assert f1(DREAM, tagger.tag_many(texts), "drugs") > f1(DREAM, rules.tag_many(texts), "drugs") + 0.03
    # a cue-less title: the classifier's evidence is the title and its score
    result = tagger.tag("5.000 Yellow Nintendo 230MG ESCROW")
    assert result["categories"] == ["drugs"] and result["page_kind"] == "listing"
    (ev,) = [e for e in result["evidence"] if e["kind"] == "classifier"]
    assert ev["term"] == "5.000 Yellow Nintendo 230MG ESCROW" and 0.5 <= ev["score"] <= 1.0


@pytest.mark.parametrize("row", HARD, ids=[f"{r['lang']}-{i}-{r['kind']}" for i, r in enumerate(HARD)])
def test_hard_negative_is_not_an_offer(tagger, row):
    assert tagger.tag(row["text"])["categories"] == []


def test_hard_negatives_cover_every_language_and_kind():
    assert {"en", "vi", "th", "id", "zh", "ms"} <= {r["lang"] for r in HARD}
    for lang in ("en", "vi", "th", "id", "zh"):
        kinds = {r["kind"] for r in HARD if r["lang"] == lang}
        assert "seizure news" in kinds and len(kinds) >= 3


LISTINGS = [  # the examples of listings with no sale words: the listing is the offer
    ("ARCTIC WOLF HEROIN 0.5G AAA+", "drugs"),
    ("Liquid Ketamine - 1000mg / 10mL", "drugs"),
    ("1 x US DEAD FULLZ", "leaked_data"),
    ("Tren E 200mg/ml 10ml vial", "drugs"),
    ("25I-NBOMe blotters x10", "drugs"),
    ("W2 with DOB and SSN", "leaked_data"),
    ("Fossil mammoth ivory pendant, hand carved", "wildlife"),
]


@pytest.mark.parametrize(("text", "category"), LISTINGS)
def test_a_listing_title_is_an_offer_without_sale_words(tagger, text, category):
    result = tagger.tag(text)
    assert result["categories"] == [category] and result["page_kind"] == "listing"


def test_mammoth_ivory_is_its_own_commodity(tagger):
    (offer,) = tagger.tag("Mammoth ivory carving, 12 cm, from Siberia — $850")["offers"]
    assert (offer["category"], offer["commodity"]) == ("wildlife", "mammoth ivory")


def test_page_kinds(tagger):
    assert tagger.tag("Police in Penang raided a warehouse and seized 1.2 tonnes of methamphetamine, "
                      "officials said on Tuesday. The suspects were arrested.")["page_kind"] == "news"
    forum = "Re: best vendor?\nPosted by anon123 » 2 days ago\nAnyone tried the new shop? Reply | Quote"
    assert tagger.tag(forum)["page_kind"] == "forum"
    paste = "\n".join(f"user{i}@example.com:pass{i}word{i}" for i in range(10))
    result = tagger.tag(paste)
    assert result["page_kind"] == "paste" and result["categories"] == ["leaked_data"]
    shop = ("Home | News | Donate | Research | Contact\nWelcome to our shop. Add to cart, worldwide shipping.\n"
            "OG Kush 10g — $80\nAmnesia Haze 10g — $85\nCBD oil for seizures 30ml — $40\n")
    result = tagger.tag(shop)
    assert result["page_kind"] == "shop" and result["categories"] == ["drugs"]
    # a caller that knows the kind from the page's structure passes it as a hint
    assert tagger.tag("OG Kush", kind="listing")["categories"] == ["drugs"]
    assert tagger.tag("OG Kush", kind="news")["categories"] == []


def test_negatives_count_near_the_commodity_not_in_page_furniture(tagger):
    shop = "News | Donate | Research\nPure cocaine 5g for $300, stealth shipping, escrow."
    assert tagger.tag(shop)["categories"] == ["drugs"]
    for text in ("It is illegal to buy, sell or possess elephant ivory carvings; offenders are prosecuted.",
                 "None of us would ever buy ivory bangles, and you should not either.",
                 "A man was caught with $4.5 million in elephant ivory at the port, officials said."):
        assert tagger.tag(text)["categories"] == [], text


@pytest.mark.parametrize("text", [
    "Ivory cashmere scarf, soft and warm, $120 with free shipping.",
    "Ivory porcelain dinner set, 24 pieces, dishwasher safe.",
    "24k gold plated necklace with ivory enamel charm",
    "Happy birthday Molly! Thanks for the cake and the lovely evening.",
    "Carding Bible 2020 (PDF): the complete tutorial on CVV, fullz and cashout",
    "Ice cream 5 scoops for $4",
    "Antique Painted Document Box - Faux Tortoise Shell Decoration. Regular price $875.00",
])
def test_everyday_senses_and_guides_are_not_offers(tagger, text):
    assert tagger.tag(text)["categories"] == []


def test_weak_words_count_with_support(tagger):
    assert tagger.tag("Ice 5g crystal, shipped tracked")["categories"] == ["drugs"]
    assert tagger.tag("Speed paste 10g")["categories"] == ["drugs"]
    assert tagger.tag("Speed limit on the highway is 100 km/h")["categories"] == []
