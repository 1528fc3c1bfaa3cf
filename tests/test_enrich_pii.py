"""Entity recognition in context: every label found where valid, not where the check fails."""

import pytest

import configs
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


def test_phone_numbers_and_the_numbers_that_only_look_like_them(tagger):
    """Timestamps, house numbers, postcodes and licence numbers are not phones; a number valid
    only in a less likely region, or written with the trunk "(0)", counts when phone context
    says so."""
    not_phones = [
        "When: 2000-04-16 11:34:35 Where: Upton",
        "Please return to 94941 2505 Heatherleigh Suite 12",
        "lives at 28919 136 Filadelfeos Str., Athens",
        "ZIP: 75534-030",
        "my driver's license number is 2270-66-1551",
    ]
    for text in not_phones:
        assert "PHONE_NUMBER" not in [label for label, _ in spans(tagger, text)], text
    phones = [
        ("Desk: +41 (0)96 471 07 95 Fax: 9498", "+41 (0)96 471 07 95"),
        ("They're not answering at 0680 298 70 63", "0680 298 70 63"),
        ("office (579)888-3058 fax", "(579)888-3058"),
    ]
    for text, value in phones:
        assert ("PHONE_NUMBER", value) in spans(tagger, text), text
    # the same digits with no phone context and no likely region are not reported
    assert "PHONE_NUMBER" not in [label for label, _ in spans(tagger, "ref 0680 298 70 63")]


def test_phone_regions_in_config_are_real_regions():
    """An unquoted NO in pii.yaml is YAML's false: Norwegian numbers would never validate.
    Loading the finder refuses a region phonenumbers does not know."""
    import yaml

    from enrich.pii import PiiFinder
    from enrich.pipeline import DEFAULT_SETTINGS

    pii = yaml.safe_load((configs.path("tagger") / "pii.yaml").read_text(encoding="utf-8"))
    assert "NO" in pii["phone"]["context_regions"]
    PiiFinder(pii, DEFAULT_SETTINGS)
    broken = yaml.safe_load((configs.path("tagger") / "pii.yaml").read_text(encoding="utf-8").replace('"NO"', "NO"))
    with pytest.raises(ValueError, match="NO"):
        PiiFinder(broken, DEFAULT_SETTINGS)
