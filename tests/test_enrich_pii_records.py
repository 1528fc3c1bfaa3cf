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


def test_an_id_after_a_numeric_field_and_in_a_padded_table_cell(tagger):
    # ",1998-07-09,8975432319486,": a field after a digit and a comma is not a thousands group
    row = "name,dob,id\nKanyarat Example,1998-07-09,8975432319486,Bangkok"
    out, labels = masked(tagger, row)
    assert "TH_TNIN" in labels and "8975432319486" not in out and "Kanyarat" not in out
    # "| 123-456-789-000 |": a markdown cell's padding does not stop it being a whole field
    table = "| Name | TIN |\n|---|---|\n| Jerameel Example | 123-456-789-000 |"
    out, labels = masked(tagger, table)
    assert "PH_TIN" in labels and "123-456-789" not in out and "Jerameel" not in out


def test_thousands_are_still_not_read_as_fields(tagger):
    assert masked(tagger, "Revenue 12,345,678 and 9,876,543,210 in total")[0] == "Revenue 12,345,678 and 9,876,543,210 in total"


TABLE_AS_TEXT = "KYC\nName\nNRIC\nDOB\nKanyarat Example\nS4510443E\n1987-01-02\nWiraphon Sample\nS5326019E\n1990-03-04"


def test_an_html_table_extracted_one_cell_a_line_is_read_by_its_period(tagger):
    out, labels = masked(tagger, TABLE_AS_TEXT)
    assert {"SG_NRIC_FIN", "PERSONAL_FIELD"} <= labels
    for value in ("Kanyarat", "Example", "1987-01-02", "Wiraphon", "1990-03-04"):
        assert value not in out, (value, out)
    assert out.startswith("KYC\nName\nNRIC\n")  # the header before the identifier's column stays


def test_one_identifier_alone_on_a_line_is_not_a_table(tagger):
    text = "Seller\nKanyarat Example\nS4510443E\nShips from Bangkok"
    out, _ = masked(tagger, text)
    assert "Kanyarat Example" in out and "Ships from Bangkok" in out
