"""Masks keep length (offsets stay valid) and hide values; hashes match by normalised value."""

import pytest

from enrich import Tagger, pii_hash, protect

KEY = b"test-key"


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


def test_protect_masks_in_place_and_hashes(tagger):
    text = "Mail John.Doe@Example.com, card 4111 1111 1111 1111, tel +66 81 234 5678, SSN 536-90-4399"
    result = tagger.tag(text)
    redacted, stored = protect(text, result["entities"], KEY)
    assert len(redacted) == len(text)
    for value in ("John.Doe@Example.com", "4111 1111 1111 1111", "81 234 5678", "536-90-4399"):
        assert value not in redacted
    by_label = {e["label"]: e for e in stored}
    card = by_label["CREDIT_CARD"]
    assert card["masked"] == "•••• •••• •••• 1111" == redacted[card["start"] : card["end"]]
    assert by_label["EMAIL_ADDRESS"]["masked"] == "J•••••••@E••••••.com"
    assert by_label["US_SSN"]["masked"].endswith("99") and by_label["US_SSN"]["masked"].count("•") == 7
    for e in stored:
        assert len(e["masked"]) == e["end"] - e["start"]
        assert e["hash"] == pii_hash(e["label"], text[e["start"] : e["end"]], KEY, e.get("region"))
        assert len(e["hash"]) == 64 and e["hash"] not in text


def test_hash_is_the_same_for_every_way_of_writing_a_value():
    assert pii_hash("EMAIL_ADDRESS", "John.Doe@Example.com", KEY) == pii_hash("EMAIL_ADDRESS", "john.doe@example.com", KEY)
    assert pii_hash("CREDIT_CARD", "4111-1111-1111-1111", KEY) == pii_hash("CREDIT_CARD", "4111111111111111", KEY)
    assert pii_hash("PHONE_NUMBER", "081 234 5678", KEY, region="TH") == pii_hash("PHONE_NUMBER", "+66812345678", KEY)
    assert pii_hash("PHONE_NUMBER", "0066 81 234 5678", KEY) == pii_hash("PHONE_NUMBER", "+66812345678", KEY)
    assert pii_hash("IBAN_CODE", "gb82 west 1234 5698 7654 32", KEY) == pii_hash("IBAN_CODE", "GB82WEST12345698765432", KEY)


def test_hash_depends_on_key_and_label():
    assert pii_hash("US_SSN", "536904399", KEY) != pii_hash("US_SSN", "536904399", b"other")
    assert pii_hash("US_SSN", "536904399", KEY) != pii_hash("PHONE_NUMBER", "536904399", KEY)


def test_credential_masks_password_fully_and_keeps_email_hash_searchable(tagger):
    text = "alice@example.org:s3cretPass\n"
    redacted, stored = protect(text, tagger.tag(text)["entities"], KEY)
    assert "s3cretPass" not in redacted and "alice" not in redacted
    assert redacted.startswith("a••••@e••••••.org:••••••••••")
    email = next(e for e in stored if e["label"] == "EMAIL_ADDRESS")
    assert email["hash"] == pii_hash("EMAIL_ADDRESS", "ALICE@example.org", KEY)
