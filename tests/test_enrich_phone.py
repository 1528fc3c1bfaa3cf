"""enrich.validators.phone_region decides validity from phonenumbers' metadata without parsing:
the same answers as parse + is_valid_number_for_region (national numbers) and parse +
is_valid_number / is_possible_number + region_code_for_number (international ones).

Compared on every call the Tagger makes on bench/tag_outputs.py's texts (those in this checkout)
and on numbers generated from the metadata's example numbers of every configured region (national
forms) and of every country calling code (international forms): separators, trunk and
international prefixes, country codes, extensions, truncations, extra and changed digits.
"""

from __future__ import annotations

import json
import random

import phonenumbers
from phonenumbers import PhoneMetadata

from enrich import validators as v
from tests.pure_python import run_python
from tests.test_enrich_fastpaths import _reference_phone_region, _regions

_TYPES = [t for t in vars(phonenumbers.PhoneNumberType).values() if isinstance(t, int) and t != phonenumbers.PhoneNumberType.UNKNOWN]


def _library_valid(value: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number_for_region(phonenumbers.parse(value, region), region)
    except phonenumbers.NumberParseException:
        return False


def _library_international(value: str, possible: bool) -> str | None:
    """phone_region's international answer the library way: parse "+…" ("00…" as "+…")."""
    try:
        number = phonenumbers.parse("+" + v.digits(value)[2:] if value.lstrip().startswith("00") else value)
    except phonenumbers.NumberParseException:
        return None
    ok = phonenumbers.is_possible_number(number) if possible else phonenumbers.is_valid_number(number)
    return phonenumbers.region_code_for_number(number) if ok else None


def _separated(rng: random.Random, number: str) -> str:
    """The digits written with random separators (the ones enrich.pii's number scan keeps)."""
    out = []
    for i, digit in enumerate(number):
        if i and rng.random() < 0.3:
            out.append(rng.choice([" ", "-", ".", " ", "-"]))
        out.append(digit)
    text = "".join(out)
    if len(number) > 5 and rng.random() < 0.2:  # an area code in brackets
        cut = rng.randint(1, 4)
        text = f"({number[:cut]}) {_separated(rng, number[cut:])}"
    return text


def _changed(rng: random.Random, number: str) -> str:
    """Truncated, lengthened or with digits changed, or as it is."""
    kind = rng.randrange(5)
    if kind == 0 and len(number) > 4:
        return number[: -rng.randint(1, 2)]
    if kind == 1:
        return number + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 2)))
    if kind == 2:
        chars = list(number)
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = rng.choice("0123456789")
        return "".join(chars)
    return number


def _examples(meta: PhoneMetadata, cc: int, region: str | None) -> list[str]:
    """National significant numbers of the metadata's example numbers, all number types."""
    out = []
    for kind in _TYPES:
        if region is None:
            example = phonenumbers.example_number_for_non_geo_entity(cc)
        else:
            example = phonenumbers.example_number_for_type(region, kind)
        if example is not None:
            out.append(phonenumbers.national_significant_number(example))
    return list(dict.fromkeys(out))


def _extension(rng: random.Random) -> str:
    return rng.choice(["", "", "", "", " x12", "x3", " ext. 45", "ext123", " x 9"])


def _national_forms(rng: random.Random, regions: list[str], per_region: int) -> list[str]:
    values = []
    idds = ["00", "011", "0011", "001", "010", "810", "009", "119"]
    for region in regions:
        meta = PhoneMetadata.metadata_for_region(region)
        cc = str(meta.country_code)
        trunk = meta.national_prefix or "0"
        own_idd = meta.preferred_international_prefix or ""
        own_idd = own_idd if own_idd.isdigit() else "00"  # "8~10" (wait for a tone) is not dialled as written
        examples = _examples(meta, meta.country_code, region)
        for _ in range(per_region):
            nsn = _changed(rng, rng.choice(examples))
            prefix = rng.choice(["", "", "", trunk, "0", cc, cc + trunk, own_idd + cc, rng.choice(idds) + cc, rng.choice(idds) + "1",
                                 own_idd + rng.choice(["44", "1", "86", "0", "9"])])
            values.append(_separated(rng, prefix + nsn) + _extension(rng))
    return values


_RECORD_CALLS = """
import json, sys
sys.path.insert(0, "bench")  # tag_outputs imports tag_speed from there
import tag_outputs
from enrich import Tagger, pii
from enrich import validators as v

texts = [t for _, t in tag_outputs.texts() if pii._NUM_PROBE.search(t)]
calls = {}
fast = v.phone_region

def record(value, regions, possible=False):
    calls[json.dumps([value, list(regions), possible])] = None
    return fast(value, regions, possible)

scanner = Tagger.load(classifier="").core.scanner
v.phone_region = record
for start in range(0, len(texts), 64):
    scanner.scan_many(texts[start : start + 64])
print(json.dumps([json.loads(c) for c in calls]))
"""


def test_phone_region_answers_the_taggers_calls_as_parsing_does() -> None:
    """Every phone_region call the character pass makes on tag_outputs.py's texts (those with a
    six-digit run: a phone number holds one) against the parse-based answer. The calls are
    recorded by patching validators.phone_region in a plain-Python run (a compiled caller calls
    the compiled function directly); the answers checked are this process's (maybe compiled)."""
    calls = [(value, tuple(regions), possible) for value, regions, possible in json.loads(run_python(_RECORD_CALLS))]
    fast = v.phone_region
    assert len(calls) > 150  # the pass does ask
    found = 0
    for value, regions, possible in calls:
        if value.lstrip().startswith(("+", "00")):
            expected = _library_international(value, possible)
        else:
            expected = _reference_phone_region(value, [r for r in regions if v._possible_length(v.digits(value), r)])
        assert fast(value, regions, possible) == expected, (value, regions, possible)
        found += expected is not None
    assert found > len(calls) // 2


def test_national_validity_from_metadata_is_parse_and_validate() -> None:
    """Numbers of every configured region, written in many ways, in their own region and in
    random other ones: the metadata's answer is the library's, for each (number, region)."""
    rng = random.Random(71)
    regions = _regions()
    values = _national_forms(rng, regions, per_region=100)
    pairs = valid = parsed = 0
    for i, value in enumerate(values):
        national = v._plain_digits(value)
        assert national is not None, value  # all of these take the fast path
        for region in rng.sample(regions, 4) + [regions[i // 100]]:
            got = v._national_valid(national, region)
            if got is None:
                parsed += 1  # a transform rule (AR, BR, JP): parsed
                continue
            expected = _library_valid(value, region)
            assert got == expected, (value, region)
            pairs += 1
            valid += expected
    assert pairs > 25_000 and valid > 3_500 and parsed < pairs // 10, (pairs, valid, parsed)
    # and in phone_region, with its length look, over the whole list ("00…" goes the international way)
    for value in [x for x in values[::5] if not x.startswith("00")]:
        expected = _reference_phone_region(value, [r for r in regions if v._possible_length(v.digits(value), r)])
        assert v.phone_region(value, regions) == expected, value


def test_international_validity_from_metadata_for_every_calling_code() -> None:
    """"+CC …" and "00CC …" numbers of every country calling code (non-geographic ones too),
    valid and possible: the metadata's answer is the library's."""
    rng = random.Random(73)
    values = []
    for cc, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        examples = []
        for region in regions:
            geo = region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
            meta = PhoneMetadata.metadata_for_region(region) if geo else PhoneMetadata.metadata_for_nongeo_region(cc)
            if meta is not None:
                examples += _examples(meta, cc, region if geo else None)
        examples = examples or ["12345678"]
        for _ in range(24):
            nsn = _changed(rng, rng.choice(examples))
            head = rng.choice(["+", "+", "+ ", "00", "00 ", " +"]) + rng.choice([str(cc), f"({cc})", str(cc)])
            middle = rng.choice(["", "", " ", "-", " 0", "0", " (0)", "1"])
            values.append(head + middle + " " + _separated(rng, nsn) + _extension(rng))
    answered = found = 0
    for value in values:
        for possible in (False, True):
            expected = _library_international(value, possible)
            assert v.phone_region(value, [], possible) == expected, (value, possible)
            answered += v._international(value, possible) is not v._PARSE
            found += expected is not None
    assert len(values) > 5000 and answered > 0.9 * 2 * len(values) and found > len(values) // 2


def test_phone_region_on_any_string_is_the_librarys_answer() -> None:
    """Strings of digits, separators, "+", "00", extensions, other scripts' digits, "#", "/" and
    letters: what takes the metadata's way and what is parsed, the library's answer either way
    (the old length look on plain digits gave another answer after a "#" extension mark)."""
    rng = random.Random(79)
    regions = _regions()
    lists = [regions[:13], regions[13:], ["US", "GB", "TH"], ["BR", "AR", "JP", "CA", "IT"]]
    pieces = list("0123456789" * 4) + ["00", "011", "44", "+", "+ ", " ", "-", ".", "(", ")", "x", "ext", "ext.", " x", "\u0663",
                                         "\uff11", "a", "#", "/", "*", "0800", "1800"]
    found = 0
    for _ in range(2500):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(3, 22)))
        regs = rng.choice(lists)
        for possible in (False, True):
            if value.lstrip().startswith(("+", "00")):
                expected = _library_international(value, possible)
            else:
                expected = _reference_phone_region(value, [r for r in regs if v._possible_length(v.digits(value), r)])
            assert v.phone_region(value, regs, possible) == expected, (value, regs, possible)
            found += expected is not None
    assert found > 300
