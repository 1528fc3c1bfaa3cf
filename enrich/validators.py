"""Checksum and structure validators, one per entity label.

Kept libraries do the checking wherever one exists (python-stdnum, phonenumbers, base58, bech32m,
stem, pycryptodome's Keccak via enrich.checksums); only the Singapore NRIC/FIN and Vietnamese
CCCD structure are written here because no installed library covers them. Phone numbers are
checked against phonenumbers' own metadata, read the way its parse and is_valid_number read it
(without building a PhoneNumber: parsing was ~9 % of tagging); other inputs go through parse.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from typing import Any

import base58
import bech32m
import phonenumbers
from stdnum import iban, luhn
from stdnum.id import nik
from stdnum.my import nric as my_nric
from stdnum.th import pin as th_pin
from stdnum.us import ssn as us_ssn
from stem.descriptor.hidden_service import HiddenServiceDescriptorV3

from enrich import checksums

_SG_SHAPE = re.compile(r"[STFGM]\d{7}[A-Z]")
_PH_SSS = re.compile(r"\d{2}-\d{7}-\d")
_PH_TIN = re.compile(r"\d{3}-\d{3}-\d{3}(?:-\d{3,5})?")
_ETH = re.compile(r"0x[0-9a-fA-F]{40}")
_MONERO_ALPHABET = set("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def digits(value: str) -> str:
    return "".join(filter(str.isdigit, value))


def is_card(value: str, prefixes: Iterable[str] = ()) -> bool:
    """Luhn-valid 12-19 digit number; with prefixes, also an issued issuer range."""
    number = digits(value)
    if not 12 <= len(number) <= 19 or len(set(number)) < 2 or not luhn.is_valid(number):
        return False
    prefixes = tuple(prefixes)
    return not prefixes or number.startswith(prefixes)


def is_iban(value: str) -> bool:
    return iban.is_valid(value.upper())


def is_us_ssn(value: str) -> bool:
    number = digits(value)
    return len(number) == 9 and us_ssn.is_valid(number)


def is_th_tnin(value: str) -> bool:
    return th_pin.is_valid(digits(value))


def is_my_nric(value: str) -> bool:
    return my_nric.is_valid(digits(value))


def is_id_nik(value: str) -> bool:
    number = digits(value)
    # python-stdnum reads a birth date (day, +40 for women; month) before it looks the place up:
    # sixteen ASCII digits without a possible one fail there (most 16-digit numbers are cards)
    if len(number) == 16 and number.isascii() and not (1 <= int(number[8:10]) <= 12 and 1 <= int(number[6:8]) % 40 <= 31):
        return False
    return nik.is_valid(number)


_SG_WEIGHTS = (2, 7, 6, 5, 4, 3, 2)
_SG_TABLES = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK", "G": "XWUTRQPNMLK"}
_SG_OFFSET = {"S": 0, "T": 4, "F": 0, "G": 4}


def is_sg_nric_fin(value: str) -> bool:
    """Singapore NRIC/FIN: S, T, F, G series (7 digits and a weighted check letter) and the
    M series of FINs issued since 2022 (its own offset and letter table)."""
    value = value.upper()
    if not _SG_SHAPE.fullmatch(value):
        return False
    if value[0] == "M":
        return checksums.sg_m_series_ok(value)
    total = sum(int(d) * w for d, w in zip(value[1:8], _SG_WEIGHTS)) + _SG_OFFSET[value[0]]
    return _SG_TABLES[value[0]][total % 11] == value[8]


def is_vn_cccd(value: str, province_codes: Iterable[str]) -> bool:
    """Vietnamese citizen identity number: province code, century/sex digit, birth year, serial."""
    number = digits(value)
    return len(number) == 12 and number[:3] in set(province_codes)


def is_ph_sss(value: str) -> bool:
    return bool(_PH_SSS.fullmatch(value)) and len(set(digits(value))) > 2


def is_ph_tin(value: str) -> bool:
    return bool(_PH_TIN.fullmatch(value)) and len(set(digits(value))) > 2


def is_btc(value: str) -> bool:
    """Base58check (P2PKH/P2SH) or segwit mainnet address (bech32 for v0, bech32m for v1+)."""
    if value[:3].lower() == "bc1":
        try:
            bech32m.decode("bc", value.lower())
        except bech32m.DecodeError:
            return False
        return True
    try:
        raw = base58.b58decode_check(value)
    except ValueError:
        return False
    return len(raw) == 21 and raw[0] in (0x00, 0x05)


def is_eth(value: str) -> bool:
    """0x + 40 hex digits; a mixed-case address must carry a valid EIP-55 (Keccak-256) checksum.
    All-lower or all-upper case carries no checksum (EIP-55): accepted on structure alone."""
    return bool(_ETH.fullmatch(value)) and len(set(value[2:].lower())) > 4 and checksums.eth_checksum_ok(value) is not False


def eth_checksummed(value: str) -> bool:
    """True only for a mixed-case address whose EIP-55 checksum verified."""
    return checksums.eth_checksum_ok(value) is True


def is_xmr(value: str) -> bool:
    """Monero mainnet standard/subaddress (95) or integrated (106) address: Monero's block-wise
    base58, the network byte that fits the length, and the Keccak-256 checksum."""
    return (
        len(value) in (95, 106)
        and value[0] in "48"
        and set(value) <= _MONERO_ALPHABET
        and checksums.monero_checksum_ok(value)
    )


def is_onion_v3(value: str) -> bool:
    """Tor v3 onion address: base32(pubkey || checksum || version=3) with its SHA3 checksum."""
    label = value.lower().removesuffix(".onion")
    try:
        key = HiddenServiceDescriptorV3.identity_key_from_address(label)  # raises on a bad checksum
    except ValueError:
        return False
    # stem checks the checksum over whatever version byte the address holds: re-encoding pins it to 3
    return HiddenServiceDescriptorV3.address_from_identity_key(key, suffix=False) == label


def is_ip(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (address.version == 4 and value.count(".") != 3)


def is_region(value: Any) -> bool:
    """A two-letter region code phonenumbers has metadata for."""
    return isinstance(value, str) and value in phonenumbers.SUPPORTED_REGIONS


def phone_region(value: str, regions: Iterable[str], possible: bool = False) -> str | None:
    """The first region (or the number's own country code) in which the number is valid.
    `possible`: an international number only has to have a possible length for its country
    (numbers from reserved ranges, e.g. drama numbers, are not "valid" but are numbers).

    What phonenumbers' parse + is_valid_number(_for_region) answer, decided from its metadata
    without parsing (_national_valid, _international) for the numbers enrich.pii hands over:
    ASCII digits and separators, maybe an x/ext extension; anything else is parsed."""
    if value.lstrip().startswith(("+", "00")):
        answer = _international(value, possible)
        if answer is not _PARSE:
            return answer  # type: ignore[return-value]
        try:
            number = phonenumbers.parse("+" + digits(value)[2:] if value.lstrip().startswith("00") else value)
        except phonenumbers.NumberParseException:
            return None
        ok = phonenumbers.is_possible_number(number) if possible else phonenumbers.is_valid_number(number)
        return phonenumbers.region_code_for_number(number) if ok else None
    number_digits = digits(value)
    national = _plain_digits(value)
    for region in regions:
        if not _possible_length(number_digits, region):
            continue  # (kept from before: it decides which regions are tried at all)
        valid = _national_valid(national, region) if national is not None else None
        if valid is None:  # no exact answer without parsing: parse
            try:
                valid = phonenumbers.is_valid_number_for_region(phonenumbers.parse(value, region), region)
            except phonenumbers.NumberParseException:
                valid = False
        if valid:
            return region
    return None


# What phone_region answers without parsing: ASCII digits and the separators enrich.pii's number
# scan lets through, after an optional "+" (group 1), then an optional "x"/"ext" extension, which
# phonenumbers strips and which changes no answer. Group 2 holds the number parsing reads.
_PLAIN_NUMBER = re.compile(r"( *\+)?([0-9 .\-()]*)(?: ?(?:x|ext\.?) ?[0-9]{1,5})?")
_MAX_INPUT = 250  # phonenumbers' _MAX_INPUT_STRING_LENGTH: longer input does not parse
_PARSE = object()  # _international's "parse it": no exact answer from metadata

_TOO_SHORT, _TOO_LONG, _LOCAL_ONLY, _INVALID_LENGTH = (
    phonenumbers.ValidationResult.TOO_SHORT,
    phonenumbers.ValidationResult.TOO_LONG,
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumbers.ValidationResult.INVALID_LENGTH,
)
# is_valid_number_for_region: the general pattern, then any of these number types
# (_number_type_helper; mobile only where it differs from fixed line)
_VALID_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail", "fixed_line")


def _plain_digits(value: str, international: bool = False) -> str | None:
    """The digits parse reads from a plain number ("+" first where international), or None when
    the value is not one or holds under three digits (then parse reads more than its digits)."""
    plain = _PLAIN_NUMBER.fullmatch(value)
    if plain is None or (plain.group(1) is not None) != international or len(value) > _MAX_INPUT:
        return None
    number = digits(plain.group(2))
    return number if len(number) >= 3 else None


class _Plan:
    """One metadata's rules, compiled once: what parse and validation read from it."""

    __slots__ = ("country_code", "code", "trunk", "idd", "national_prefix", "general", "lengths", "local", "valid", "leading", "exact")

    def __init__(self, meta: Any) -> None:
        self.country_code: int = meta.country_code
        self.code = str(meta.country_code)
        self.trunk: str = meta.national_prefix or ""  # as dialled (national_prefix below: as parsed)
        self.idd = re.compile(meta.international_prefix) if meta.international_prefix else None
        self.national_prefix = re.compile(meta.national_prefix_for_parsing) if meta.national_prefix_for_parsing else None
        general = meta.general_desc
        pattern = general.national_number_pattern if general is not None else None
        self.general = re.compile(pattern) if pattern else None
        self.lengths: tuple[int, ...] = tuple(general.possible_length) if general is not None else ()
        self.local = frozenset(general.possible_length_local_only) if general is not None else frozenset()
        self.leading = re.compile(meta.leading_digits) if meta.leading_digits is not None else None
        types = [getattr(meta, name) for name in _VALID_TYPES]
        if not meta.same_mobile_and_fixed_line_pattern:
            types.append(meta.mobile)
        alternatives = [_desc_regex(desc) for desc in types]
        parts = [p for p in alternatives if p is not None]
        whole = _desc_regex(general)
        self.valid = re.compile(f"(?={whole})(?:{'|'.join(parts)})" if whole is not None and parts else "(?!)")
        # a transform rule rewrites the digits while parsing: left to phonenumbers
        self.exact = not meta.national_prefix_transform_rule and bool(self.lengths)


def _desc_regex(desc: Any) -> str | None:
    """_is_number_matching_desc as one regex (match at 0): a possible length, the whole pattern."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = desc.possible_length
    if lengths and not [n for n in lengths if n >= 0]:
        return None
    length = f"(?=(?:{'|'.join(f'.{{{n}}}' for n in lengths if n >= 0)})\\Z)" if lengths else ""
    return f"{length}(?:{desc.national_number_pattern})\\Z"


def _plan(country_code: int, region: str) -> _Plan | None:
    """PhoneMetadata.metadata_for_region_or_calling_code's metadata, compiled once (the calling
    code only tells the non-geographic entity's apart)."""
    return _compiled_plan(region, country_code if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY else 0)


@functools.cache
def _compiled_plan(region: str, country_code: int) -> _Plan | None:
    meta = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return None if meta is None else _Plan(meta)


@functools.cache
def _region_plans(region: str) -> tuple[_Plan, _Plan] | None:
    """A region's plan and that of its country code's main region (whose metadata parse reads
    once it has taken a country code); None when either is not exact, or the region unknown."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return None
    own = _plan(0, region)
    if own is None:
        return None
    main_region = phonenumbers.region_code_for_country_code(own.country_code)
    main = own if main_region == region else _plan(own.country_code, main_region)
    return (own, main) if main is not None and own.exact and main.exact else None


def _general(number: str, plan: _Plan) -> bool:
    return plan.general is not None and plan.general.fullmatch(number) is not None


def _strip_national_prefix(number: str, plan: _Plan) -> str:
    """_maybe_strip_national_prefix_carrier_code without a transform rule."""
    if not number or plan.national_prefix is None:
        return number
    match = plan.national_prefix.match(number)
    if match is None:
        return number
    rest = number[match.end() :]
    return number if _general(number, plan) and not _general(rest, plan) else rest


def _length_result(length: int, plan: _Plan) -> Any:
    """_test_number_length for any number type."""
    if length in plan.local:
        return _LOCAL_ONLY
    if length == plan.lengths[0]:
        return phonenumbers.ValidationResult.IS_POSSIBLE
    if length < plan.lengths[0]:
        return _TOO_SHORT
    if length > plan.lengths[-1]:
        return _TOO_LONG
    return phonenumbers.ValidationResult.IS_POSSIBLE if length in plan.lengths[1:] else _INVALID_LENGTH


def _country_code(number: str) -> tuple[int, str]:
    """_extract_country_code: a known calling code of 1-3 digits, and what follows it."""
    if not number or number[0] == "0":
        return 0, number
    for size in range(1, min(len(number), 3) + 1):
        code = int(number[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code, number[size:]
    return 0, number


def _national_significant(national: str, plan: _Plan) -> str | None:
    """The end of parse: the national prefix stripped where what is left has a possible length,
    None where parse raises (too short or too long). The number of leading zeros parse keeps
    gives the same digits back (national_significant_number)."""
    if len(national) < 2:
        return None
    stripped = _strip_national_prefix(national, plan)
    if _length_result(len(stripped), plan) not in (_TOO_SHORT, _LOCAL_ONLY, _INVALID_LENGTH):
        national = stripped
    return national if len(national) <= 17 else None


def _national_valid(number: str, region: str) -> bool | None:
    """parse(number, region) + is_valid_number_for_region(…, region) for plain digits (three or
    more) from the metadata; None where only parsing can tell (a transform rule)."""
    plans = _region_plans(region)
    if plans is None:
        return None
    own, main = plans
    # _maybe_extract_country_code: an international prefix (not followed by 0) and a country code
    idd = own.idd.match(number) if own.idd is not None else None
    if idd is not None and not number.startswith("0", idd.end()):
        after = number[idd.end() :]
        if len(after) <= 2:
            return False  # parse raises
        code, national = _country_code(after)
        if code != own.country_code:
            return False  # no known code (parse raises) or another country's
        plan = main
    elif number.startswith(own.code):
        national = _strip_national_prefix(number[len(own.code) :], own)
        if (not _general(number, own) and _general(national, own)) or _length_result(len(number), own) == _TOO_LONG:
            plan = main
        else:
            national, plan = number, own
    else:
        national, plan = number, own
    significant = _national_significant(national, plan)
    return significant is not None and own.valid.match(significant) is not None


def _international(value: str, possible: bool) -> str | None | object:
    """phone_region's international branch from the metadata: the region of a "+CC…" or
    "00CC…" number if valid (or possible), None if not, _PARSE where only parsing can tell."""
    if value.lstrip().startswith("00"):
        number = digits(value)[2:]  # parsed as "+" + these
        if not number.isascii() or len(number) >= _MAX_INPUT:
            return _PARSE
        if len(number) < 3:
            return None  # "+" and two digits or fewer: not a viable number
    else:
        plain = _plain_digits(value, international=True)
        if plain is None:
            return _PARSE
        number = plain
    code, national = _country_code(number)
    if code == 0:
        return None
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
    plan = _plan(code, regions[0])
    if plan is None or not plan.exact:
        return _PARSE
    significant = _national_significant(national, plan)
    if significant is None:
        return None
    if possible:
        ok = len(significant) in plan.local or _length_result(len(significant), plan) == phonenumbers.ValidationResult.IS_POSSIBLE
        return _region_for_number(code, significant, regions) if ok else None
    region = _region_for_number(code, significant, regions)
    if region is None:
        return None
    own = _plan(code, region)
    return region if own is not None and own.valid.match(significant) is not None else None


def _region_for_number(code: int, significant: str, regions: tuple[str, ...]) -> str | None:
    """region_code_for_number: the one region of the code, or the first whose leading digits
    (or, without those, whose number types) match."""
    if len(regions) == 1:
        return regions[0]
    for region in regions:
        plan = _plan(code, region)
        if plan is None:
            continue
        if plan.leading is not None:
            if plan.leading.match(significant):
                return region
        elif plan.valid.match(significant):
            return region
    return None


def _possible_length(number: str, region: str) -> bool:
    """Could `number` (digits, maybe with trunk prefix or country code) be national in region?"""
    plan = _compiled_plan(region, 0)
    if plan is None:
        return False
    lengths, trunk = plan.lengths, plan.trunk
    if len(number) in lengths:
        return True
    if trunk and number.startswith(trunk) and len(number) - len(trunk) in lengths:
        return True
    return number.startswith(plan.code) and len(number) - len(plan.code) in lengths
