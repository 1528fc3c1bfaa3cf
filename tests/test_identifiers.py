"""Identifiers: every kind validated by its own checksum (a failing candidate is not an
identifier), PGP keys through pgpy (corrupt and oversized blocks are skipped), hashes that
agree with enrich's for the kinds both know, and personal data never in clear."""

from __future__ import annotations

import warnings

import pytest

from enrich import pii_hash
from listings import ListingExtractor
from listings.identifiers import (
    IdentifierFinder,
    classify,
    display,
    is_eth,
    is_onion_v3,
    is_tox,
    is_xmr,
    mask,
    value_hash,
)
from listings.records import PERSONAL_KINDS, PUBLIC_KINDS
from tests.listing_helpers import KEY

BTC = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
BECH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test vector
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
XMR = "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
ONION = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"
SESSION = "057aeb66e45660c3bdfb7c62706f6440226af43ec13f3b6f899c1dd4db1b8fce5b"


def _tox() -> str:
    body = bytes(range(1, 37))
    check = [0, 0]
    for i, b in enumerate(body):
        check[i % 2] ^= b
    return (body + bytes(check)).hex().upper()


def _key() -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgpy
        from pgpy.constants import (
            EllipticCurveOID,
            HashAlgorithm,
            KeyFlags,
            PubKeyAlgorithm,
        )

        k = pgpy.PGPKey.new(PubKeyAlgorithm.EdDSA, EllipticCurveOID.Ed25519)
        k.add_uid(pgpy.PGPUID.new("Lab Vendor", email="vendor@example.org"), usage={KeyFlags.Sign},
                  hashes=[HashAlgorithm.SHA256])
        return str(k.pubkey), str(k.fingerprint).replace(" ", "")


def kinds(text: str, links: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in IdentifierFinder().find(text, links)]


@pytest.mark.parametrize(("text", "kind", "value"), [
    (f"pay {BTC} now", "btc", BTC), (f"pay {BECH}", "btc", BECH), (f"eth {ETH}", "eth", ETH.lower()),
    (f"usdt trc20 {TRON}", "tron", TRON), (f"xmr {XMR}", "xmr", XMR), (f"mirror {ONION}", "onion", ONION),
    ("telegram: @siamchem_th", "telegram", "siamchem_th"), ("see t.me/hanoidragon99 for news", "telegram", "hanoidragon99"),
    ("jabber: dragon@jabber.example.org", "xmpp", "dragon@jabber.example.org"), ("mail dragon@example.com", "email", "dragon@example.com"),
    (f"session {SESSION}", "session", SESSION), ("wickr me: borneo.trader", "wickr", "borneo.trader"),
    ("Tel: +66 81 555 0123", "phone", "+66815550123"), ("โทร 081 555 0199", "phone", "+66815550199"),
    ("PGP fingerprint: C0BA DAB0 91CB 4E91 2D92  53AD 961D A248 B2C5 34F9", "pgp", "C0BADAB091CB4E912D9253AD961DA248B2C534F9"),
])
def test_each_kind(text: str, kind: str, value: str) -> None:
    assert (kind, value) in kinds(text)


def test_tox_checksum() -> None:
    tox = _tox()
    assert ("tox", tox) in kinds(f"tox {tox}") and is_tox(tox)
    broken = tox[:-2] + ("00" if tox[-2:] != "00" else "11")
    assert not is_tox(broken) and kinds(f"tox {broken}") == []


@pytest.mark.parametrize("bad", [
    BTC[:-1] + "X",                            # base58check fails
    BECH[:-1] + "5",                           # bech32 checksum fails
    ETH[:-1] + "D",                            # mixed case that breaks EIP-55
    TRON[:-1] + "u",
    XMR[:-1] + "f",                            # Monero Keccak checksum fails
    ONION.replace("duck", "duct"),             # v3 onion checksum fails
    "0x" + "0" * 40,                           # placeholder
])
def test_a_failing_checksum_is_not_an_identifier(bad: str) -> None:
    assert kinds(f"address: {bad} ok") == []


def test_validators_directly() -> None:
    assert is_eth(ETH) and is_eth(ETH.lower()) and not is_eth(ETH[:-1] + "D")
    assert is_xmr(XMR) and not is_xmr(XMR[:-1] + "f")
    assert is_onion_v3(ONION) and not is_onion_v3("a" * 56 + ".onion")


def test_national_phone_numbers_need_a_contact_word() -> None:
    assert kinds("order 081 555 0199 shipped") == []
    assert kinds("2026-09-15 price 1.200.000") == []


def test_pgp_key_block_gives_its_fingerprint() -> None:
    armoured, fpr = _key()
    finder = IdentifierFinder()
    found = finder.find(f"<pre>\n{armoured}\n</pre>")
    assert [(f.kind, f.value, f.key_id, f.source) for f in found] == [("pgp", fpr, fpr[-16:], "pgp_block")]


def test_corrupt_pgp_block_is_skipped_and_counted() -> None:
    armoured, _ = _key()
    lines = armoured.splitlines()
    corrupt = "\n".join(lines[:3] + [lines[3][:10] + "!!!!"] + lines[-2:])
    finder = IdentifierFinder()
    assert finder.find(corrupt + "\nBTC " + BTC) and [f.kind for f in finder.find(corrupt)] == []
    assert any(r.kind == "pgp" and r.reason == "corrupt" for r in finder.rejected)


def test_a_10_mib_pgp_block_is_not_parsed() -> None:
    body = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + ("A" * 64 + "\n") * (10 * 1024 * 1024 // 65) + \
        "=abcd\n-----END PGP PUBLIC KEY BLOCK-----\nBTC " + BTC
    finder = IdentifierFinder()
    found = finder.find(body)
    assert [f.kind for f in found] == ["btc"]  # the rest of the page still counts
    assert [(r.kind, r.reason) for r in finder.rejected] == [("pgp", "too_large")]


@pytest.mark.parametrize(("kind", "value", "label"), [
    ("email", "Dragon@Example.com", "EMAIL_ADDRESS"), ("btc", BTC, "CRYPTO"), ("btc", BECH.upper(), "CRYPTO"),
    ("eth", ETH, "CRYPTO"), ("onion", ONION.upper(), "ONION_ADDRESS"),
])
def test_hashes_agree_with_enrichs_pii_hash(kind: str, value: str, label: str) -> None:
    """One value hashes alike in page entities and identifier occurrences (same key)."""
    assert value_hash(kind, value, KEY) == pii_hash(label, value, KEY)


def test_phone_hash_agrees_with_enrich_in_e164() -> None:
    (found,) = [f for f in IdentifierFinder().find("Tel: +66 81 555 0123") if f.kind == "phone"]
    assert value_hash("phone", found.value, KEY) == pii_hash("PHONE_NUMBER", "+66 81 555 0123", KEY)


def test_display_is_clear_only_for_public_kinds() -> None:
    assert display("btc", BTC) == BTC and display("onion", ONION) == ONION
    for kind, value in (("email", "dragon@example.com"), ("telegram", "siamchem_th"), ("phone", "+66815550123"),
                        ("session", SESSION), ("wickr", "borneo.trader"), ("xmpp", "d@jabber.example.org")):
        assert display(kind, value) == mask(kind, value) != value


def test_personal_values_never_leave_the_extractor_in_clear() -> None:
    armoured, fpr = _key()
    html = (f"<html><body><h1>Contact</h1><p>Telegram: @siamchem_th · mail dragon@example.com · Tel: +66 81 555 0123</p>"
            f"<p>BTC {BTC}</p><pre>{armoured}</pre><a href='mailto:x@example.net'>mail</a></body></html>")
    out = ListingExtractor(KEY, sites_dir=None).extract(html, url="http://" + ONION + "/p", onion="x" * 56 + ".onion")
    text = repr(out.identifiers)
    for clear in ("siamchem_th", "dragon@example.com", "+66815550123", "x@example.net", "vendor@example.org"):
        assert clear not in text
    kinds_found = {i["kind"] for i in out.identifiers}
    assert kinds_found == {"telegram", "email", "phone", "btc", "pgp"}
    assert all(i["display"] == i["masked"] for i in out.identifiers if i["kind"] in PERSONAL_KINDS)
    assert {i["display"] for i in out.identifiers if i["kind"] in PUBLIC_KINDS} >= {BTC, fpr}


@pytest.mark.parametrize(("value", "kind"), [
    (BTC, "btc"), ("@siamchem_th", "telegram"), ("t.me/siamchem_th", "telegram"), ("+66 81 555 0123", "phone"),
    ("C0BA DAB0 91CB 4E91 2D92  53AD 961D A248 B2C5 34F9", "pgp"), (ONION, "onion"), (SESSION, "session"),
    ("dragon@example.com", "email"),
])
def test_classify_for_pivots(value: str, kind: str) -> None:
    assert classify(value).kind == kind


def test_classify_an_armoured_key_and_a_vendor_name() -> None:
    armoured, fpr = _key()
    assert classify(armoured).value == fpr
    assert classify("SiamChem") is None and classify(BTC[:-1] + "X") is None
