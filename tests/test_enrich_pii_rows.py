"""PII at rest in rows: identifiers in CSV/TSV/pipe rows and key=value dumps are found; a delimited
row holding a validated identifier is a personal record and its other fields are masked too; card
track data is masked whole. Values are synthetic (checksum-valid, nobody's)."""

import pytest

from enrich import Tagger
from enrich.protect import protect

KEY = b"test-key"


@pytest.fixture(scope="module")
def tagger():
    return Tagger.load(classifier="")


def masked(tagger, text):
    result = tagger.tag(text)
    out, stored = protect(text, result["entities"], KEY)
    return out, {e["label"] for e in stored}


CASES = [
    # (layout, text, clear values that must not survive, labels expected)
    ("csv th", "ชื่อ,เลขบัตรประชาชน,โทร,อีเมล\nมานี ตัวอย่าง,8975432319486,+66 81 555 0123,manee@example.com",
     ["8975432319486", "มานี", "ตัวอย่าง", "555 0123", "manee@"], {"TH_TNIN", "PERSONAL_FIELD", "PHONE_NUMBER", "EMAIL_ADDRESS"}),
    ("pipe card row", "4111111111111111|11/29|321|Verify Synthetic|1990-01-01|12 Sukhumvit Rd, Bangkok",
     ["4111111111111111", "11/29", "|321|", "Verify", "Synthetic", "1990-01-01", "Sukhumvit"], {"CREDIT_CARD", "PERSONAL_FIELD"}),
    ("tsv id", "Nama\tNIK\tHP\nBudi Contoh\t3171011708450001\t0812-3456-7890",
     ["3171011708450001", "Budi", "0812-3456-7890"], {"ID_NIK", "PERSONAL_FIELD", "PHONE_NUMBER"}),
    ("key=value", "name=Budi Contoh; nik=3171011708450001; dob=1945-08-17; phone=+62 812 3456 7890",
     ["Budi", "3171011708450001", "1945-08-17", "812 3456"], {"ID_NIK", "PERSONAL_FIELD", "PHONE_NUMBER"}),
    ("track 1 and 2", "%B4111111111111111^SYNTHETIC/VERIFY^2911101000000000000000?\n;4111111111111111=29111010000000000?",
     ["4111111111111111", "SYNTHETIC", "2911101", "29111010000000000"], {"CARD_TRACK"}),
    ("semicolon my", "Ali Contoh;770305-02-1234;PIN 4821;Jalan Contoh 5",
     ["770305-02-1234", "Ali", "4821", "Jalan"], {"MY_NRIC", "PERSONAL_FIELD"}),
]


@pytest.mark.parametrize(("layout", "text", "clear", "labels"), CASES, ids=[c[0] for c in CASES])
def test_rows_are_masked(tagger, layout, text, clear, labels):
    out, found = masked(tagger, text)
    assert labels <= found, found
    for value in clear:
        assert value not in out, (value, out)
    assert len(out) == len(text)  # offsets stay valid


def test_commas_in_prose_and_thousands_are_not_rows(tagger):
    text = "We shipped 1,234,567 units last year, call 081 234 5678 for prices, thanks"
    result = tagger.tag(text)
    assert [e["label"] for e in result["entities"]] == ["PHONE_NUMBER"]


def test_a_delimited_row_without_a_validated_identifier_is_left_alone(tagger):
    text = "product,price,qty\nheroin,$50,5g\nketamine,$30,1g"
    assert not any(e["label"] == "PERSONAL_FIELD" for e in tagger.tag(text)["entities"])
