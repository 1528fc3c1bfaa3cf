"""PII at rest outside delimited rows: vertical records ("Name: …" / "ID: …" blocks), a card's
expiry / CVV / PIN written next to it, passwords in combo lines and `password: …` fields.
Values are synthetic (checksum-valid, nobody's)."""

import pytest

from enrich import Tagger
from enrich.protect import protect

KEY = b"test-key"


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load(classifier="")


def masked(tagger, text):
    out, stored = protect(text, tagger.tag(text)["entities"], KEY)
    assert len(out) == len(text)  # offsets stay valid
    return out, {e["label"] for e in stored}


VERTICAL = """Name: Somchai Example
DOB: 1985-03-12
Address: 99 Sukhumvit Rd, Bangkok 10110
ID: 8975432319486
Phone: +66 81 555 0123
Name: Budi Contoh
Tanggal lahir: 1945-08-17
NIK: 3171011708450001
Alamat: Jl. Contoh No. 5, Jakarta"""


def test_vertical_records_with_a_validated_id_are_masked_one_person_per_block(tagger):
    # the page's text lost its blank lines: a repeated key ("Name") starts the next record
    out, labels = masked(tagger, VERTICAL)
    assert {"TH_TNIN", "ID_NIK", "PERSONAL_FIELD", "PHONE_NUMBER"} <= labels
    for value in ("Somchai", "Example", "1985-03-12", "Sukhumvit", "8975432319486", "Budi", "1945-08-17",
                  "3171011708450001", "Jakarta", "555 0123"):
        assert value not in out, (value, out)
    assert out.startswith("Name: ") and "\nTanggal lahir: " in out  # the keys stay searchable


def test_a_vertical_block_without_a_validated_id_is_left_alone(tagger):
    text = "Name: Golden Lotus\nShips from: Thailand\nID: 12345\nSince: 2019-04-01"
    assert masked(tagger, text)[0] == text


def test_blank_lines_separate_records(tagger):
    text = "Name: Somchai Example\nID: 8975432319486\n\nName: Shop Contact\nCity: Bangkok"
    out, _ = masked(tagger, text)
    assert "Somchai" not in out and out.endswith("Name: Shop Contact\nCity: Bangkok")


@pytest.mark.parametrize("text, clear", [
    ("CC: 4111111111111111 exp 11/29 cvv 321 pin 1234", ["11/29", "321", "1234"]),
    ("card 5555 5555 5555 4444 08/28 456 holder", ["08/28", "456"]),
    ("Visa 4012888888881881 (expiry: 2029-04, CVC2 #987)", ["2029-04", "987"]),
    ("บัตร 4111111111111111 หมดอายุ 11/29 cvv 321", ["11/29", "321"]),
])
def test_card_details_next_to_a_card_are_masked(tagger, text, clear):
    out, labels = masked(tagger, text)
    assert {"CREDIT_CARD", "CARD_DETAIL"} <= labels
    for value in clear:
        assert value not in out, (value, out)


def test_numbers_near_words_without_a_card_stay(tagger):
    text = "Delivery in 11/29 days, pin 1234 on the map, cvv 321 is a model name"
    assert masked(tagger, text)[0] == text


def test_combo_lines_passwords_are_masked(tagger):
    text = ("alice@example.com:Passw0rd! | Plan: Premium | Country: TH\n"
            "bob_smith:hunter22\ncarol99:qwerty123\ndave:letmein1\n")
    out, labels = masked(tagger, text)
    assert "CREDENTIAL" in labels
    for value in ("Passw0rd!", "hunter22", "qwerty123", "letmein1", "alice@"):
        assert value not in out, (value, out)
    assert "| Plan: Premium | Country: TH" in out


def test_password_fields_are_masked_wherever_written(tagger):
    text = "login: admin password: Sup3rS3cret\nWiFi pass=abc12345\nmật khẩu: matkhau99"
    out, labels = masked(tagger, text)
    assert labels == {"PASSWORD"}
    for value in ("Sup3rS3cret", "abc12345", "matkhau99"):
        assert value not in out
    assert "password: " in out and "pass=" in out
