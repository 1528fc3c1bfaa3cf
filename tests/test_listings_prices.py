"""Prices as markets write them: the defined outcome of every awkward form (price-parser reads
the number, the tagger's currency table the words and signs around it)."""

from __future__ import annotations

import pytest
import yaml

import configs
from listings.prices import PriceReader, to_usd


@pytest.fixture(scope="module")
def reader() -> PriceReader:
    market = yaml.safe_load(configs.path("tagger", "market.yaml").read_text(encoding="utf-8"))
    extract = yaml.safe_load(configs.path("listings", "extract.yaml").read_text(encoding="utf-8"))
    return PriceReader(market, extract)


@pytest.mark.parametrize(("text", "lang", "amount", "currency", "amount_max", "note"), [
    ("1.2k", None, 1200.0, None, None, None),          # a thousand of something unnamed
    ("1.2k", "vi", 1200.0, "VND", None, None),         # "k" is dong on a Vietnamese page
    ("500k", "id", 500000.0, "IDR", None, None),       # and rupiah on an Indonesian one
    ("0,5 BTC", None, 0.5, "BTC", None, None),
    ("1.200 BTC", None, 1.2, "BTC", None, None),       # a lone separator before three digits: decimal in crypto
    ("1.200 USD", None, 1200.0, "USD", None, None),    # ... a thousands separator in fiat
    ("฿300", None, 300.0, "THB", None, None),          # U+0E3F is the baht sign
    ("₿0.01", None, 0.01, "BTC", None, None),          # U+20BF is bitcoin
    ("1.200.000đ", None, 1200000.0, "VND", None, None),
    ("1,5tr", None, 1500000.0, "VND", None, None),
    ("2 juta", None, 2000000.0, "IDR", None, None),
    ("Rp 1.500.000", None, 1500000.0, "IDR", None, None),
    ("300 บาท", None, 300.0, "THB", None, None),
    ("¥2,000", None, 2000.0, "CNY", None, None),
    ("150 USDT", None, 150.0, "USDT", None, None),     # not US dollars
    ("USD 1,234.56", None, 1234.56, "USD", None, None),
    ("1 200 THB", None, 1200.0, "THB", None, None),
    ("$10 - $20", None, 10.0, "USD", 20.0, "range"),
    ("10-20 USD", None, 10.0, "USD", 20.0, "range"),
    ("1.2 XMR / 260 USD", None, 1.2, "XMR", None, None),  # the first price stated
    ("0.0025 BTC / 150 USDT", None, 0.0025, "BTC", None, None),
    ("contact for price", None, None, None, None, "contact"),
    ("liên hệ", "vi", None, None, None, "contact"),
    ("面议", None, None, None, None, "contact"),
    ("12", None, 12.0, None, None, None),              # a bare number as a price field's value
])
def test_defined_outcomes(reader: PriceReader, text: str, lang: str | None, amount, currency, amount_max, note) -> None:
    p = reader.parse(text, lang)
    assert p is not None
    assert (p.amount, p.currency, p.amount_max, p.note) == (amount, currency, amount_max, note)


@pytest.mark.parametrize("text", ["", "Posted 2026-09-15", "1312 sales, 4.8 stars", "no price here"])
def test_no_price(reader: PriceReader, text: str) -> None:
    assert reader.parse(text) is None


@pytest.mark.parametrize(("text", "expect"), [("500 g", (500.0, "g")), ("for 10 viên", (10.0, "viên")),
                                              ("THJ2201 500g", (500.0, "g")), ("50 records", (50.0, "records")),
                                              ("20 dumps", (20.0, "dumps")), ("1 对", (1.0, "对")), ("Ketamine", None)])
def test_quantities(reader: PriceReader, text: str, expect) -> None:
    assert reader.quantity(text) == expect


def test_usd_only_from_a_configured_rate_table() -> None:
    assert to_usd(10, "USD", None) == 10
    assert to_usd(0.5, "BTC", None) is None  # no live rates
    assert to_usd(0.5, "BTC", {"BTC": 60000}) == 30000
