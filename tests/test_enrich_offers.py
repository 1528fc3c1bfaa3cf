"""Offers vs. reporting in every language, on the labelled set and the seed documents."""

import json
from pathlib import Path

import pytest
import yaml

from enrich import Tagger
from tests.pure_python import run_python

DATA = Path(__file__).parent / "data" / "tagger" / "labelled.yaml"
ROWS = yaml.safe_load(DATA.read_text(encoding="utf-8"))
SEEDS = sorted((Path(__file__).resolve().parents[2] / "shared" / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['lang']}-{i}-{'/'.join(r['categories']) or 'none'}" for i, r in enumerate(ROWS)])
def test_labelled_page(tagger, row):
    result = tagger.tag(row["text"])
    assert sorted(result["categories"]) == sorted(row["categories"])
    assert result["lang"] == row["lang"] or (row["lang"] == "en" and result["lang"] == "und")


def test_every_language_and_hard_negative_kind_is_covered():
    langs = {r["lang"] for r in ROWS}
    assert {"en", "vi", "th", "id", "ms", "zh"} <= langs
    for lang in ("en", "vi", "th", "id", "zh"):
        assert any(r["lang"] == lang and r["categories"] for r in ROWS)
        assert any(r["lang"] == lang and not r["categories"] for r in ROWS)


@pytest.mark.skipif(not SEEDS, reason="shared/seeds not beside the repo")
@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_seed_reports_are_not_offers(tagger, path):
    assert tagger.tag(path.read_text(encoding="utf-8"))["categories"] == []


def test_evidence_and_offers_index_the_text(tagger):
    text = "Vendor: pure cocaine 5g for $120, stealth shipping.\n\nUnrelated line."
    result = tagger.tag(text)
    assert result["categories"] == ["drugs"]
    kinds = {(e["kind"], text[e["start"] : e["end"]]) for e in result["evidence"]}
    assert {("commodity", "cocaine"), ("quantity", "5g"), ("price", "$120")} <= kinds
    assert all(text[e["start"] : e["end"]] == e["term"] for e in result["evidence"])
    (offer,) = result["offers"]
    assert (offer["commodity"], offer["price"], offer["currency"], offer["quantity"], offer["unit"]) == ("cocaine", 120.0, "USD", 5.0, "g")
    assert text[offer["start"] : offer["end"]] == "cocaine 5g for $120"


def test_negated_sale_needs_tokens_and_flips_the_decision(tagger):
    offer = tagger.tag("We sell rhino horn, price on request, worldwide shipping.")
    refusal = tagger.tag("We do not sell rhino horn. Price of fake horn on request.")
    assert offer["categories"] == ["wildlife"]
    assert refusal["categories"] == []


def test_many_validated_records_make_a_dump(tagger):
    cards = ["4111 1111 1111 1111", "5500 0000 0000 0004", "3400 0000 0000 009", "6011 0000 0000 0004", "3530 1113 3330 0000"]
    result = tagger.tag("\n".join(f"{c} | 12/28 | 123" for c in cards))
    assert result["categories"] == ["leaked_data"]
    assert {e["kind"] for e in result["evidence"]} == {"entity"}
    assert all(e["term"] == "CREDIT_CARD" for e in result["evidence"])  # labels, never values


def test_price_and_quantity_belong_to_the_listing_they_follow() -> None:
    """A category page lists items one after another: each commodity takes the amounts
    after it, not the previous listing's, and one item named in two languages is one offer."""
    from enrich import Tagger

    text = (
        "Sừng tê giác nguyên chất — 100 gam / rhino horn\nhanoi-dragon\n100 g\n1.8 BTC / 2500000000 VND\n2026-11-01\n"
        "Gỗ trắc / ไม้พะยูง Siamese rosewood logs — 2 m³\nhanoi-dragon\n2 m3\n0.35 BTC / 22000 USDT\n2026-10-27\n"
    )
    offers = Tagger.load().tag(text)["offers"]
    by = {o["commodity"]: o for o in offers}
    assert len(offers) == 2
    assert (by["rhino horn"]["price"], by["rhino horn"]["currency"], by["rhino horn"]["quantity"]) == (1.8, "BTC", 100.0)
    timber = next(o for o in offers if o["commodity"] != "rhino horn")
    assert (timber["price"], timber["currency"], timber["quantity"], timber["unit"]) == (0.35, "BTC", 2.0, "m³")


# quoted speech (enrich.offers._QUOTE): text written for onionwatch
DIALOGUE = (
    '“This pair of mammoth ivory tusks is the treasure of my shop, 260 kg, HK$50,000,000,” the young man explained.\n'
    '“Many customers want to buy them; the last bid was forty-five million, I will not keep them long,” he smiled.'
)
QUOTED_SELLER = (
    "Along the row of gold shops, the owners talk openly about tiger teeth.\n"
    '"Wrapped in 24 carat gold we usually sell one for $350," one owner whispered. Another keeps a stock of tiger skin wrapped in plastic.\n'
    '"This tiger skin is $300, I can ship it tomorrow," he offered.'
)
INCH_MARKS = 'Carved mammoth ivory netsuke, 2" x 3", signed. For sale: $450, shipping worldwide.'


def test_quoted_speech_is_reported_not_offered(tagger):
    assert tagger.tag(DIALOGUE)["categories"] == []
    assert tagger.tag(QUOTED_SELLER)["categories"] == []
    assert tagger.tag(INCH_MARKS)["categories"] == ["wildlife"]  # inch marks are not quotes


def test_quoted_speech_rule_is_what_decides():
    """Without the rule (offers._quotes finds no quote) both pages are offers. Patched in a
    plain-Python process: compiled, decide() calls _quotes natively, past the module attribute."""
    code = ("import json, sys; import enrich.offers as offers; from enrich import Tagger; "
            "offers._quotes = lambda text: []; tagger = Tagger.load(); "
            "print(json.dumps([tagger.tag(text)['categories'] for text in sys.argv[1:]]))")
    assert json.loads(run_python(code, QUOTED_SELLER, DIALOGUE).splitlines()[-1]) == [["wildlife"], ["wildlife"]]


# page kind and cues added with the third held-out wildlife batch (text written for onionwatch)
TITLE_OFFER = (
    "Mammoth Ivory Tusk For Sale\n"
    "A curved section of woolly mammoth tusk recovered from the Siberian permafrost, with a rich brown bark "
    "and a creamy core, well suited to carving, knife handles and display on its wooden stand, in stable "
    "condition after a slow cure in our workshop.\n"
    "About the material: elephant populations are endangered and their ivory is banned under CITES; mammoth "
    "ivory comes from an extinct species."
)


@pytest.mark.parametrize("text, expected", [
    (TITLE_OFFER, ["wildlife"]),  # a title offering the commodity outweighs legal notes further down
    ("出售老象牙手鐲一隻，價格面議，可寄全台。", ["wildlife"]),  # Traditional Chinese
    ("轉讓清代犀角杯，保真，有意者私聊。", ["wildlife"]),
    ("Box\nMaterials: Tortoise shell (marine turtle)\nObject Number 1957.12\nCredit Line: Museum purchase\nDimensions 4.7 in.", []),
    ("Anyone can buy gold, but ivory is different, the collector said. His friends buy ivory as a status symbol, "
     "and few of them ever sell it again, the newspaper reported.", []),  # a buyer's verb in reported prose
    ("The carved rhinoceros horn cup is set to go under the hammer on 9 March at a Geneva sale, with an "
     "estimate of CHF 10,000-15,000.", ["wildlife"]),
])
def test_wildlife_cues_of_the_third_batch(tagger, text, expected):
    assert tagger.tag(text)["categories"] == expected


def test_title_offer_is_what_makes_it_a_listing():
    import configs
    from enrich.pagekind import PageKindGuesser

    cfg = yaml.safe_load((Path(configs.root()) / "tagger" / "pagekind.yaml").read_text(encoding="utf-8"))
    with_rule, without = PageKindGuesser(cfg), PageKindGuesser({k: v for k, v in cfg.items() if k != "title_offer"})
    # legal notes give the page reporting words; the title still offers the tusk
    assert with_rule.guess(TITLE_OFFER, negative_cues=5, title_commodity=True).kind == "listing"
    assert without.guess(TITLE_OFFER, negative_cues=5, title_commodity=True).kind == "news"


def test_lone_price_line_makes_a_product_page(tagger):
    from enrich.pagekind import _LONE_PRICE

    assert all(_LONE_PRICE.match(s) for s in ("$87.00", "Price: £450", "Regular price $875.00 USD", "1,200 USD"))
    assert not any(_LONE_PRICE.match(s) for s in ("$87.00 each, 3 left", "Sold for $10,000", "2024"))
