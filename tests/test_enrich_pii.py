"""Entity recognition in context: every label found where valid, not where the check fails."""

import pytest

from enrich import Tagger

ONION = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load()


def spans(tagger, text):
    return [(e["label"], text[e["start"] : e["end"]]) for e in tagger.tag(text)["entities"]]


FOUND = [
    ("EMAIL_ADDRESS", "write to j.doe+shop@mail.example.co.th today", "j.doe+shop@mail.example.co.th"),
    ("PHONE_NUMBER", "WhatsApp +66 81 234 5678 for orders", "+66 81 234 5678"),
    ("PHONE_NUMBER", "liên hệ sđt 0912 345 678 nhé", "0912 345 678"),
    ("PHONE_NUMBER", "โทร0812345678ได้เลย", "0812345678"),
    ("CREDIT_CARD", "card 4111-1111-1111-1111 exp 12/27 cvv 123", "4111-1111-1111-1111"),
    ("IBAN_CODE", "IBAN: GB82 WEST 1234 5698 7654 32 and more", "GB82 WEST 1234 5698 7654 32"),
    ("US_SSN", "SSN 536-90-4399 DOB 1980", "536-90-4399"),
    ("CRYPTO", "send to bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 now", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
    ("CRYPTO", "BTC: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
    ("CRYPTO", "eth 0x52908400098527886E0F7030069857D2E4169EE7", "0x52908400098527886E0F7030069857D2E4169EE7"),
    ("ONION_ADDRESS", f"mirror at http://{ONION}/shop", ONION),
    ("IP_ADDRESS", "RDP 203.0.113.45:3389 admin", "203.0.113.45"),
    ("TH_TNIN", "เลขบัตรประชาชน 3100600445635", "3100600445635"),
    ("SG_NRIC_FIN", "NRIC S1234567D scan", "S1234567D"),
    ("MY_NRIC", "IC 770305-02-1234 nama Ali", "770305-02-1234"),
    ("ID_NIK", "NIK KTP 3171011708450001 alamat Jakarta", "3171011708450001"),
    ("VN_CCCD", "số CCCD 001099012345 của khách", "001099012345"),
    ("PH_SSS", "SSS no. 34-1234567-8", "34-1234567-8"),
    ("PH_TIN", "BIR TIN 123-456-789-000", "123-456-789-000"),
    ("CREDENTIAL", "leak:\nroot@example.com:Tr0ub4dor&3\n", "root@example.com:Tr0ub4dor&3"),
]


@pytest.mark.parametrize(("label", "text", "value"), FOUND, ids=[f[0] + str(i) for i, f in enumerate(FOUND)])
def test_entity_found(tagger, label, text, value):
    assert (label, value) in spans(tagger, text)


NOT_FOUND = [
    ("CREDIT_CARD", "Order #4111111111111112 shipped"),
    ("CREDIT_CARD", "tracking 4111 1111 1111 1112"),
    ("IBAN_CODE", "GB82 WEST 1234 5698 7654 33"),
    ("US_SSN", "ref 078-05-1120"),
    ("CRYPTO", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),
    ("ONION_ADDRESS", "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczaa.onion"),
    ("IP_ADDRESS", "version 300.1.2.3"),
    ("TH_TNIN", "เลขบัตรประชาชน 3100600445636"),
    ("SG_NRIC_FIN", "NRIC S1234567A"),
    ("PHONE_NUMBER", "Posted 2021-03-12 at 10:30"),
    ("PHONE_NUMBER", "giá 1.500.000 đồng"),
    ("VN_CCCD", "mã đơn 001099012345"),  # structure alone, no context: too weak to report
]


@pytest.mark.parametrize(("label", "text"), NOT_FOUND, ids=[n[0] + str(i) for i, n in enumerate(NOT_FOUND)])
def test_entity_not_found(tagger, label, text):
    assert label not in {lab for lab, _ in spans(tagger, text)}


def test_username_password_lines_count_only_as_a_combo_list(tagger):
    combo = "alpha:pa55word\nbravo:letmein1\ncharlie:qwerty12\n"
    assert [lab for lab, _ in spans(tagger, combo)] == ["CREDENTIAL"] * 3
    assert spans(tagger, "Weight:5g\nPrice:$40\n") == []
