"""The planted-PII leak paste: every kind of personal data the tagger knows, in every layout a
dump is written in, made of generated FAKE values that pass their checksums (so the tagger must
treat them as real). The paste's `planted` list is the truth a test checks the data at rest
against: each value, its kind, its layout, and the strings that must never be found in clear.

Generated, deterministic (seeded), nobody's: card numbers in public test-card ranges, Thai /
Malaysian / Indonesian / Vietnamese / Philippine / Singaporean / US identifiers with valid check
digits and made-up serials, phone numbers in fictitious-looking ranges that libphonenumber calls
valid, example.com/.org/.net mailboxes, IBANs, coin addresses from random bytes.

Write the paste again with ``python -m lab.planted`` (configs/lab/leak/pastes/planted-pii.yaml).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import base58
import bech32m
import phonenumbers
import yaml
from Crypto.Hash import keccak
from stdnum import iban, luhn
from stdnum.id import nik
from stdnum.my import nric
from stdnum.th import pin as th_pin

SEED = 20261130
PASTE = Path(__file__).resolve().parent.parent / "configs" / "lab" / "leak" / "pastes" / "planted-pii.yaml"
# public test-card ranges (Visa 400000, Mastercard 555555 / 222300, Amex 378282, Discover 601111, JCB 353011)
CARD_PREFIXES = ("400000", "555555", "222300", "378282", "601111", "353011")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SG_TABLE = "JZIHGFEDCBA"
# name parts and places that occur nowhere else in the lab, so a clear hit can only be a leak
FIRST = ["Kanyarat", "Wiraphon", "Nguyet", "Thanhtung", "Sulastri", "Bambangsu", "Nurhaslinda", "Azrulhisham",
         "Marivic", "Jerameel", "Weixiong", "Huilingxi", "Tashelle", "Darnellio", "Ploynapat", "Duongkhai",
         "Siriwimol", "Quanghuyen"]
LAST = ["Plointhong", "Khemthongsa", "Truongvanh", "Setyawirno", "Kamaruzzal", "Dimaculango", "Tanweeling",
        "Okonkwovic", "Saengduang", "Hoanglinhy", "Wicaksonoy", "Rahimullah", "Bautistaro", "Limkokwee",
        "Srisawangwo", "Nguyenthiep", "Chaiyaphumo", "Pangilinanx"]
STREETS = ["Soi Phahonplant", "Jalan Kenangaplant", "Duong Hoaplanted", "Jl. Melatiplant", "Calle Sampaguitap",
           "Lorong Merbokplant", "Thanon Siriplanted", "Pho Hangplanted", "Soi Aripplanted", "Jalan Ampangplant",
           "Duong Lelplanted", "Jl. Kebonplanted", "Calle Narraplant", "Lorong Kudaplant", "Thanon Ramaplant",
           "Jalan Tunplanted", "Soi Nanaplanted"]


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def card(self, prefix: str) -> str:
        length = 15 if prefix.startswith("37") else 16
        body = prefix + self.digits(length - len(prefix) - 1)
        return body + luhn.calc_check_digit(body)

    # A number that passes two checks (a Thai ID that is also Luhn-valid, a Philippine TIN that is
    # also a Luhn-valid 12-digit card) is masked under whichever label scores higher; the paste
    # keeps to unambiguous ones so that each kind's own label is seen.
    def th_id(self) -> str:
        while True:
            body = self.rng.choice("12345678") + self.digits(11)
            value = body + th_pin.calc_check_digit(body)
            if not luhn.is_valid(value):
                return value

    def my_nric(self) -> str:
        while True:
            value = f"{self.rng.randint(60, 99):02d}{self.rng.randint(1, 12):02d}{self.rng.randint(1, 28):02d}14{self.digits(4)}"
            if nric.is_valid(value):
                return value

    def nik(self) -> str:
        while True:
            day = self.rng.randint(1, 28) + self.rng.choice((0, 40))
            value = f"3171{self.rng.randint(1, 9):02d}{day:02d}{self.rng.randint(1, 12):02d}{self.rng.randint(60, 99):02d}{self.digits(4)}"
            # Luhn-valid too: every sixteen-digit number in the lab's content is (tests/test_lab_sites.py)
            if nik.is_valid(value) and value[-4:] != "0000" and luhn.is_valid(value):
                return value

    def cccd(self) -> str:
        while True:  # one that is not also a valid Malaysian NRIC (a twelve-digit number can be both)
            value = self.rng.choice(("001", "079", "048", "031")) + self.rng.choice("0123") + self.digits(8)
            if not nric.is_valid(value):
                return value

    def sg(self, series: str = "S") -> str:
        digits = self.digits(7)
        total = sum(int(d) * w for d, w in zip(digits, (2, 7, 6, 5, 4, 3, 2))) + (4 if series == "T" else 0)
        return series + digits + _SG_TABLE[total % 11]

    def ssn(self) -> str:
        return f"{self.rng.randint(100, 665):03d}-{self.rng.randint(10, 99):02d}-{self.rng.randint(1000, 9999):04d}"

    def sss(self) -> str:
        return f"{self.digits(2)}-{self.digits(7)}-{self.digits(1)}"

    def tin(self) -> str:
        while True:
            value = f"{self.digits(3)}-{self.digits(3)}-{self.digits(3)}-000"
            if not luhn.is_valid(value.replace("-", "")):
                return value

    def phone(self, region: str, national_head: str, rest: int) -> tuple[str, str]:
        """(international, national) written forms of one valid number."""
        while True:
            national = national_head + self.digits(rest)
            number = phonenumbers.parse(national, region)
            if phonenumbers.is_valid_number(number):
                return (phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
                        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))

    def iban(self, country: str, bban: str) -> str:
        return country + iban.calc_check_digits(country + "00" + bban) + bban

    def btc(self) -> str:
        return base58.b58encode_check(b"\x00" + self.rng.randbytes(20)).decode()

    def bech32(self) -> str:
        return bech32m.encode("bc", 0, self.rng.randbytes(20))

    def eth(self) -> str:
        raw = self.rng.randbytes(20).hex()
        digest = keccak.new(digest_bits=256, data=raw.encode()).hexdigest()
        return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(raw))

    def xmr(self) -> str:
        data = b"\x12" + self.rng.randbytes(64)
        data += keccak.new(digest_bits=256, data=data).digest()[:4]
        out = []
        for i in range(0, len(data), 8):
            block = data[i : i + 8]
            size = (0, 2, 3, 5, 6, 7, 9, 10, 11)[len(block)]
            n, chars = int.from_bytes(block, "big"), []
            for _ in range(size):
                n, r = divmod(n, 58)
                chars.append(_B58[r])
            out.append("".join(reversed(chars)))
        return "".join(out)

    def password(self) -> str:
        alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
        return "".join(self.rng.choice(alphabet) for _ in range(10)) + self.rng.choice("!#$%*")

    def dob(self) -> str:
        return f"{self.rng.randint(1958, 1999)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def expiry(self) -> str:
        return f"{self.rng.randint(1, 12):02d}/{self.rng.randint(27, 31)}"

    def cvv(self, amex: bool = False) -> str:
        return str(self.rng.randint(1000, 9999)) if amex else str(self.rng.randint(100, 999))

    def pin(self) -> str:
        return str(self.rng.randint(1000, 9999))


def build(seed: int = SEED) -> dict[str, Any]:
    """The paste (title, body, table) and its truth (`planted`)."""
    g = _Gen(seed)
    planted: list[dict[str, Any]] = []
    names = iter(zip(FIRST, LAST))
    streets = iter(STREETS)

    def plant(kind: str, layout: str, value: str, probes: list[str] | None = None) -> str:
        planted.append({"kind": kind, "layout": layout, "value": value, **({"probes": probes} if probes else {})})
        return value

    def person(layout: str, with_address: bool = True) -> dict[str, str]:
        first, last = next(names)
        plant("NAME", layout, f"{first} {last}", [first, last])
        dob = plant("DOB", layout, g.dob())
        address = ""
        if with_address:
            street = next(streets)
            address = plant("ADDRESS", layout, f"{g.rng.randint(10, 299)} {street}", [street.split()[-1]])
        return {"name": f"{first} {last}", "dob": dob, "address": address}

    lines: list[str] = []
    # -- CSV rows (comma): Thai and Vietnamese IDs -------------------------------------------
    lines += ["== customers.csv ==", "name,dob,national_id,phone,email,address"]
    for i, (kind, make, phone) in enumerate((("TH_TNIN", g.th_id, g.phone("TH", "081", 7)[0]),
                                             ("VN_CCCD", g.cccd, g.phone("VN", "091", 7)[0]))):
        p = person("csv")
        ident = plant(kind, "csv", make())
        plant("PHONE_NUMBER", "csv", phone)
        email = plant("EMAIL_ADDRESS", "csv", f"csv.user{i}.{g.digits(4)}@example.com")
        lines.append(f"{p['name']},{p['dob']},{ident},{phone},{email},{p['address']}")
    # -- TSV rows: Indonesian NIK, Malaysian NRIC ----------------------------------------------
    lines += ["", "== export.tsv ==", "nama\tnik_or_ic\ttgl_lahir\thp\talamat"]
    for kind, make, phone in (("ID_NIK", g.nik, g.phone("ID", "0812", 8)[1]), ("MY_NRIC", g.my_nric, g.phone("MY", "012", 7)[1])):
        p = person("tsv")
        ident = plant(kind, "tsv", make() if kind == "ID_NIK" else _my_dashed(make()))
        plant("PHONE_NUMBER", "tsv", phone)
        lines.append("\t".join((p["name"], ident, p["dob"], phone, p["address"])))
    # -- pipe rows: card|exp|cvv|name|dob|address (and one with a PIN) ------------------------
    lines += ["", "== cc.txt (card|exp|cvv|pin|holder|dob|address) =="]
    for prefix in ("400000", "555555", "378282"):
        p = person("pipe")
        card = plant("CREDIT_CARD", "pipe", g.card(prefix))
        exp, cvv, pin = g.expiry(), g.cvv(prefix == "378282"), g.pin()
        plant("CARD_DETAIL", "pipe", exp, [f"|{exp}|"])
        plant("CARD_DETAIL", "pipe", cvv, [f"|{cvv}|"])
        plant("CARD_DETAIL", "pipe", pin, [f"|{pin}|"])
        lines.append(f"{card}|{exp}|{cvv}|{pin}|{p['name']}|{p['dob']}|{p['address']}")
    # -- semicolon row with a spaced IBAN --------------------------------------------------------
    p = person("semicolon")
    bank = plant("IBAN_CODE", "semicolon", g.iban("DE", g.digits(18)))
    lines += ["", "== payouts ==", f"{p['name']};{bank};{p['dob']};{p['address']}"]
    # -- markdown table: Philippine SSS and TIN ------------------------------------------------
    lines += ["", "| Name | SSS / TIN | Birthday | Mobile |", "|---|---|---|---|"]
    for kind, make, phone in (("PH_SSS", g.sss, g.phone("PH", "0917", 7)[0]), ("PH_TIN", g.tin, g.phone("PH", "0918", 7)[0])):
        p = person("markdown", with_address=False)
        ident = plant(kind, "markdown", make())
        plant("PHONE_NUMBER", "markdown", phone)
        lines.append(f"| {p['name']} | {ident} | {p['dob']} | {phone} |")
    # -- key=value dump ------------------------------------------------------------------------
    p = person("key=value")
    ident = plant("ID_NIK", "key=value", g.nik())
    phone = plant("PHONE_NUMBER", "key=value", g.phone("ID", "0813", 8)[0])
    email = plant("EMAIL_ADDRESS", "key=value", f"kv.{g.digits(5)}@example.org")
    lines += ["", f"name={p['name']}; nik={ident}; dob={p['dob']}; phone={phone}; email={email}; address={p['address']}"]
    # -- vertical records (one person per block) ---------------------------------------------------
    lines += ["", "== KYC records =="]
    for kind, key, make, phone in (("TH_TNIN", "ID", g.th_id, g.phone("TH", "089", 7)[1]),
                                   ("MY_NRIC", "IC", lambda: _my_dashed(g.my_nric()), g.phone("MY", "017", 7)[0]),
                                   ("US_SSN", "SSN", g.ssn, g.phone("US", "415", 7)[0]),
                                   ("SG_NRIC_FIN", "NRIC", lambda: g.sg("T"), g.phone("SG", "8", 7)[0])):
        p = person("vertical")
        ident = plant(kind, "vertical", make())
        plant("PHONE_NUMBER", "vertical", phone)
        email = plant("EMAIL_ADDRESS", "vertical", f"kyc.{g.digits(5)}@example.net")
        lines += [f"Name: {p['name']}", f"DOB: {p['dob']}", f"Address: {p['address']}", f"{key}: {ident}",
                  f"Phone: {phone}", f"Email: {email}", ""]
    # -- card track data -------------------------------------------------------------------------
    track_card = g.card("400000")
    first, last = next(names)
    t1 = plant("CARD_TRACK", "track", f"%B{track_card}^{last.upper()}/{first.upper()}^{g.rng.randint(27, 31)}{g.rng.randint(1, 12):02d}101{g.digits(12)}?",
               [track_card, last.upper(), first.upper()])
    t2 = plant("CARD_TRACK", "track", f";{track_card}={g.rng.randint(27, 31)}{g.rng.randint(1, 12):02d}101{g.digits(12)}?", [track_card])
    planted[-1]["probes"].append(t2[len(track_card) + 2 :])
    planted[-2]["probes"].append(t1.split("^")[-1].rstrip("?"))
    lines += ["== dumps (track 1 / track 2) ==", t1, t2]
    # -- combo list (email:pass, user:pass, with capture) --------------------------------------------
    lines += ["", "== combo (mail:pass / user:pass) =="]
    for i in range(3):
        email = plant("EMAIL_ADDRESS", "combo", f"combo.{g.digits(5)}@example.com")
        pw = plant("PASSWORD", "combo", g.password())
        lines.append(f"{email}:{pw}" + (" | Plan: Premium | Country: TH" if i == 2 else ""))
    for _ in range(3):
        user = f"gamer_{g.digits(6)}"
        pw = plant("PASSWORD", "combo", g.password())
        lines.append(f"{user}:{pw}")
    # -- free text ---------------------------------------------------------------------------------
    card = plant("CREDIT_CARD", "free text", g.card("601111"))
    exp, cvv, pin = g.expiry(), g.cvv(), g.pin()
    plant("CARD_DETAIL", "free text", exp, [f"exp {exp}"])
    plant("CARD_DETAIL", "free text", cvv, [f"cvv {cvv}"])
    plant("CARD_DETAIL", "free text", pin, [f"pin {pin}"])
    spaced = g.card("353011")
    spaced = " ".join(spaced[i : i + 4] for i in range(0, 16, 4))
    plant("CREDIT_CARD", "free text", spaced)
    exp2, cvv2 = g.expiry(), g.cvv()
    plant("CARD_DETAIL", "free text", exp2, [f"{spaced[-4:]} {exp2}"])
    plant("CARD_DETAIL", "free text", cvv2, [f"{exp2} {cvv2}"])
    th_int, th_nat = g.phone("TH", "086", 7)
    vn_int, vn_nat = g.phone("VN", "098", 7)
    id_int, id_nat = g.phone("ID", "0857", 8)
    my_int, my_nat = g.phone("MY", "019", 7)
    sg_int, sg_nat = g.phone("SG", "9", 7)
    ph_int, ph_nat = g.phone("PH", "0927", 7)
    for v in (th_int, th_nat, vn_int, vn_nat, id_int, id_nat, my_int, my_nat, sg_int, sg_nat, ph_int, ph_nat):
        plant("PHONE_NUMBER", "free text", v)
    mail = plant("EMAIL_ADDRESS", "free text", f"seller.{g.digits(5)}@example.net")
    iban_gb = plant("IBAN_CODE", "free text", g.iban("GB", "WEST" + g.digits(14)))
    iban_spaced = g.iban("DE", g.digits(18))
    iban_spaced = " ".join(iban_spaced[i : i + 4] for i in range(0, len(iban_spaced), 4))
    plant("IBAN_CODE", "free text", iban_spaced)
    btc, bc1, eth, xmr = (plant("CRYPTO", "free text", make()) for make in (g.btc, g.bech32, g.eth, g.xmr))
    ip = plant("IP_ADDRESS", "free text", f"203.0.113.{g.rng.randint(10, 250)}")
    pw = plant("PASSWORD", "free text", g.password())
    th_free = g.th_id()
    th_free_fmt = plant("TH_TNIN", "free text", f"{th_free[0]}-{th_free[1:5]}-{th_free[5:10]}-{th_free[10:12]}-{th_free[12]}")
    lines += [
        "", "== notes ==",
        f"Buyer paid with card {card} exp {exp} cvv {cvv} pin {pin} and a second card {spaced} {exp2} {cvv2}.",
        f"Thai contact: call {th_int} or {th_nat}. Vietnam: gọi điện thoại {vn_int}, sđt {vn_nat}.",
        f"Indonesia WhatsApp {id_int} / no hp {id_nat}. Malaysia mobile {my_int}, tel {my_nat}.",
        f"Singapore phone {sg_int}, call {sg_nat}. Philippines mobile {ph_int}, call {ph_nat}.",
        f"Mail {mail}; refunds by IBAN {iban_gb} or bank transfer {iban_spaced}.",
        f"BTC {btc} (old) or {bc1}; ETH {eth}; XMR {xmr}.",
        f"Panel at {ip}, admin password: {pw}",
        f"Seller's Thai citizen ID {th_free_fmt}.",
    ]
    # -- HTML table (rendered as <table>, one cell a line once extracted): Singapore NRIC, card --------
    rows = []
    for _ in range(2):
        p = person("html table")
        fin = plant("SG_NRIC_FIN", "html table", g.sg("S"))
        sg_phone = plant("PHONE_NUMBER", "html table", g.phone("SG", "8", 7)[0])
        email = plant("EMAIL_ADDRESS", "html table", f"tbl.{g.digits(5)}@example.org")
        card = plant("CREDIT_CARD", "html table", g.card("555555"))
        rows.append([p["name"], fin, p["dob"], sg_phone, email, card, p["address"]])
    return {
        "title": "Fresh SEA fullz + KYC mix (sample)",
        "posted": "2026-11-29",
        "lang": "en",
        "syntax": "text",
        "intro": "Sample of the full dump. Canary PLANTEDCANARYQX7 marks this paste.",
        "body": "\n".join(lines).rstrip() + "\n",
        "table": {"caption": "KYC table", "header": ["Name", "NRIC/FIN", "DOB", "Phone", "Email", "Card", "Address"], "rows": rows},
        "planted": planted,
    }


def _my_dashed(value: str) -> str:
    return f"{value[:6]}-{value[6:8]}-{value[8:]}"


def render(data: dict[str, Any]) -> str:
    head = ("# GENERATED by `python -m lab.planted` (lab/planted.py): every value is FAKE and synthetic.\n"
            "# `planted` is the truth tests/test_planted_pii_lab.py checks the data at rest against (not served).\n")
    return head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)


if __name__ == "__main__":
    PASTE.write_text(render(build()), encoding="utf-8")
    print(f"wrote {PASTE}")
