"""The tagger's fast paths of the speed round of issue 11 give exactly what they replace.

enrich.lang counts scripts with one table look-up per character and finds words in the ASCII
bytes; enrich.market tries its currency and unit regexes only next to a character that can begin
or end one; enrich.pii tries the spaced-IBAN regex only where its probe says a match can start,
and the key:value line regex only on lines holding ":" or "=". Each is compared with the plain
computation on generated text, edges included (other scripts, astral characters, lone
surrogates, newlines).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import configs
from enrich import Tagger, pii
from enrich.lang import LanguageGuesser
from enrich.market import Market
from enrich.scan import load_config
from tests.pure_python import source_module


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return load_config(configs.path("tagger"))


def _reference_guess(cfg: dict[str, Any], text: str) -> str:
    """The language guess as first written: regexes for the scripts, the words and the
    Vietnamese letters."""
    sample = text[: int(cfg["sample_chars"])]
    if re.search(r"[\u0e00-\u0e7f\u4e00-\u9fff]", sample):
        thai = len(re.sub(r"[^\u0e00-\u0e7f]+", "", sample))
        han = len(re.sub(r"[^\u4e00-\u9fff]+", "", sample))
        latin = len(re.sub(r"[^A-Za-z\u00c0-\u024f\u1e00-\u1eff]+", "", sample))
        if thai and thai >= max(han, latin * 0.5):
            return "th"
        if han and han >= latin * 0.5:
            return "und" if len(re.findall(r"[\u3040-\u30ff\uac00-\ud7af]", sample)) > han * 0.2 else "zh"
    words = re.findall(r"[a-z]+", sample.lower())
    if not words:
        return "und"
    if len(re.findall("[" + re.escape(cfg["vi_letters"]) + "]", sample)) >= float(cfg["vi_min_ratio"]) * sum(map(len, words)):
        return "vi"
    counts = Counter({lang: sum(w in set(stop) for w in words) for lang, stop in cfg["stopwords"].items()})
    if not counts["en"] and not counts["idms"]:
        return "und"
    if counts["en"] >= counts["idms"]:
        return "en"
    return "ms" if counts["ms"] > counts["id"] else "id"


def test_language_guess_gives_what_the_regex_guess_gives(data: dict[str, Any]) -> None:
    cfg = data["lang"]
    guesser = LanguageGuesser(cfg)
    stop = sorted({w for words in cfg["stopwords"].values() for w in words})
    pieces = stop + [" ", "\n", "-", "'", "The", "AND", "x", "é", "ă", "Đ", "ạ", "ườ", "ขาย", "ไทย", "中文", "出售", "カタカナ",
                     "한국", "\U0001f600", "\udcff", "K", "İ", "Σ", "ß", "1", "Viagra", "yang", "dan", "di", "untuk", "boleh", "ini"]
    scripts = ["ขายยา", "ไทย", "คน", "中文", "出售", "象牙", "カタカナ", "한국"]
    rng = random.Random(71)
    seen: Counter[str] = Counter()
    for _ in range(20_000):
        mix = pieces + scripts * rng.choice([0, 2, 20])
        text = "".join(rng.choice(mix) + rng.choice(["", " "]) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.1:
            text = text * (2000 // max(1, len(text)))  # past the sample's end
        expected = _reference_guess(cfg, text)
        assert guesser.guess(text) == expected, text
        seen[expected] += 1
    assert all(seen[lang] > 100 for lang in ("en", "vi", "th", "zh", "und", "id", "ms")), seen


def test_script_counts_count_what_the_regexes_find(data: dict[str, Any]) -> None:
    guesser = LanguageGuesser(data["lang"])
    rng = random.Random(73)
    chars = [chr(c) for c in (0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0xBF, 0xC0, 0x24F, 0x250, 0xE00, 0xE7F, 0xE80, 0x1DFF,
                              0x1E00, 0x1EA1, 0x1EFF, 0x1F00, 0x303F, 0x3040, 0x30FF, 0x3100, 0x4DFF, 0x4E00, 0x9FFF, 0xA000,
                              0xABFF, 0xAC00, 0xD7AF, 0xD7B0, 0xDCFF, 0xFFFF, 0x1F600, 0x20000)] + list(data["lang"]["vi_letters"])
    for _ in range(5000):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 30)))
        expected = tuple(len(re.findall(p, text)) for p in (r"[\u0e00-\u0e7f]", r"[\u4e00-\u9fff]", r"[\u3040-\u30ff\uac00-\ud7af]",
                                                           r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]",
                                                           "[" + re.escape(data["lang"]["vi_letters"]) + "]"))
        assert guesser._counts(text) == expected, text


class _Anything:
    def __contains__(self, item: object) -> bool:
        return True


def test_amounts_with_and_without_the_character_looks(data: dict[str, Any]) -> None:
    """Market.find tries its prefix, suffix and unit regexes only where the character before or
    after the number can end or begin one: the same amounts as trying them at every number (the
    plain one patched, so from the source: a compiled Market takes no such attributes)."""
    fast, plain = Market(data["market"]), source_module("market").Market(data["market"])
    plain.prefix_last = plain.suffix_first = plain.unit_first = _Anything()  # type: ignore[assignment]
    plain._after_prefix = lambda low, at: True  # type: ignore[method-assign]
    cfg = data["market"]
    words = cfg["currency_prefix"] + cfg["currency_suffix"] + cfg["units"] + list(cfg["multipliers"])
    words = [w.lower() for w in words] + ["x", "a", "-", ".", ",", "gold", "é", ""]
    numbers = ["1", "25", "1.500", "0,5", "2,000.50", "1 500", "24", "7\u00a0000"]
    gaps = ["", " ", "  ", "\n", " \n", "\n ", "a", "."]
    rng = random.Random(79)
    found = 0
    for _ in range(30_000):
        low = "".join(rng.choice(words) + rng.choice(gaps) + rng.choice(numbers) + rng.choice(gaps) for _ in range(rng.randint(0, 5)))
        low += rng.choice(words)
        expected = [repr(a) for a in plain.find(low)]  # two Amount classes: compared by their fields
        assert [repr(a) for a in fast.find(low)] == expected, low
        found += bool(expected)
    assert found > 10_000


def test_spaced_iban_scan_tried_at_probe_hits_gives_the_plain_scans_matches() -> None:
    rng = random.Random(83)
    pieces = ["GB", "82", "DE", "89", "WEST", "1234", "5698", "7654", "32", "3704", "0044", "0532", "0130", "00", " ", "  ", "a",
              "1", "\u0663\u0663", "x", "\n", "GB82 WEST 1234 5698 7654 32"]
    hits = 0
    for _ in range(40_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        expected = [m.span() for m in pii._IBAN_SPACED.finditer(text)]
        assert [m.span() for m in pii._iban_spaced(text)] == expected, text
        hits += bool(expected)
    assert hits > 1000


def test_key_value_lines_tried_where_a_line_holds_the_mark() -> None:
    rng = random.Random(89)
    pieces = ["\n", "\r\n", " ", "\t", "Name", "DOB", "ID", ":", "=", "|", "- ", "• ", "# ", "1990-01-01", "x", "\u00e9", "ab",
              "Name: Jane Doe", "a=b", "1:2", "\n\n"]
    hits = 0
    for _ in range(40_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 18)))
        # (line start, groups, end): _line_matches' own match may start at the newline before the line
        expected = [(start, m.regs[1:], m.end()) for start, m in pii._line_matches(pii._KV_LINE, text)]
        got = [(start, m.regs[1:], m.end()) for start, m in pii._marked_line_matches(pii._KV_LINE, text, pii._KV_MARK)]
        assert got == expected, text
        hits += bool(expected)
    assert hits > 2000


def test_tagger_loads_with_the_fast_paths() -> None:
    result = Tagger.load(classifier="").tag("Selling cocaine 5g for $80, call +66 81 234 5678. Name: A B\nID: 1")
    assert result["lang"] == "en" and result["categories"] == ["drugs"]


def test_phone_region_in_each_region_alone_is_parse_and_validate() -> None:
    """enrich.validators.phone_region, which reads validity from phonenumbers' metadata without
    parsing: each configured region, tried alone on every number, answers as parse +
    is_valid_number_for_region does (example numbers of each region written as people write
    them, with trunk prefix, country code, international prefixes, digits changed). Every pair,
    where tests/test_enrich_phone.py samples regions over more forms."""
    import phonenumbers

    from enrich import validators as v

    cfg = load_config(configs.path("tagger"))["pii"]
    regions = list(dict.fromkeys([r for rs in cfg["phone_regions_by_lang"].values() for r in rs] + cfg["phone_regions_default"]
                                 + cfg["phone"]["context_regions"]))
    rng = random.Random(97)
    values = []
    for region in regions:
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn, cc = phonenumbers.national_significant_number(example), str(example.country_code)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            values += [national, nsn, cc + nsn, "0" + nsn, "011" + cc + nsn, "001" + cc + nsn, "0011" + cc + nsn, cc + " " + nsn,
                       "1" + nsn, "8" + nsn, "0" + cc + nsn]
    for value in list(values):
        for _ in range(2):
            chars = list(value)
            at = rng.randrange(len(chars))
            if chars[at].isdigit():
                chars[at] = rng.choice("0123456789")
            values.append("".join(chars))
    valid = 0
    for value in values:
        for region in regions:
            try:
                number = phonenumbers.parse(value, region)
                expected = region if phonenumbers.is_valid_number_for_region(number, region) else None
            except phonenumbers.NumberParseException:
                expected = None
            if value.lstrip().startswith(("+", "00")) or not v._possible_length(v.digits(value), region):
                continue  # the international path; regions the length rules out (tested apart)
            assert v.phone_region(value, [region]) == expected, (value, region)
            valid += expected is not None
    assert valid > 300


def test_nik_birth_date_look_rejects_no_valid_nik() -> None:
    from stdnum.id import nik

    from enrich import validators as v

    rng = random.Random(101)
    valid = 0
    for _ in range(20_000):
        digits = "".join(rng.choice("0123456789") for _ in range(16))
        if rng.random() < 0.5:  # a real place and a plausible birth date (day + 40 for women)
            digits = rng.choice(["3171", "3273", "5171", "1271"]) + digits[4:6] + f"{rng.randint(1, 71):02d}{rng.randint(0, 13):02d}" + digits[10:]
        value = rng.choice([digits, digits[:6] + "." + digits[6:12] + "." + digits[12:], "\u0663" + digits[1:]])
        expected = nik.is_valid(v.digits(value))
        assert v.is_id_nik(value) == expected, value
        valid += expected
    assert valid > 1000


def test_scan_of_many_pages_step_by_step_is_the_scan_of_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scanner.scan_many takes each step over all pages (or over groups of pages when they are
    big): the same analysis for every page as scanning it alone, hints included."""
    from enrich import scan

    data = _pages()
    scanner = Tagger.load(classifier="").core.scanner
    hints = [None, "listing", None, "news", None, "shop"] * (len(data) // 6 + 1)
    hints = hints[: len(data)]
    alone = [scanner.scan(text, hint) for text, hint in zip(data, hints)]
    assert scanner.scan_many(data, hints) == alone
    monkeypatch.setattr(scan, "_GROUP_CHARS", 500)  # groups of a few pages, a big page alone
    assert scanner.scan_many(data, hints) == alone
    assert scanner.scan_many([]) == []


def _pages() -> list[str]:
    """Pages of every kind: the labelled set and hard negatives, and a long PII page."""
    import yaml

    root = Path(__file__).resolve().parent / "data" / "tagger"
    texts = [r["text"] for name in ("labelled.yaml", "hard_negatives.yaml") for r in yaml.safe_load((root / name).read_text(encoding="utf-8"))]
    texts.append("Name: A B\nID: 3171012345670001\nCard: 4111 1111 1111 1111 exp 11/29\n" * 40)
    return texts


def test_card_detail_scan_in_a_window_without_look_behind_gives_the_same_matches() -> None:
    """PiiFinder._card_fields looks for named expiry/CVV/PIN in a window of the card's line with
    the regexes' look-behind checked by hand (enrich.pii._not_after_letter with pos/endpos): the
    same matches as finditer(text, pos, endpos), a letter just before the window included."""
    finder = Tagger.load(classifier="").core.scanner.pii
    assert finder.card_details and all(not p.pattern.startswith("(?<!") for p in finder.card_details)
    with_look_behind = [re.compile(r"(?<![^\W\d_])" + p.pattern) for p in finder.card_details]
    rng = random.Random(103)
    pieces = ["exp", "expiry", "cvv", "cvc", "pin", "x", "é", " ", "\t", ":", "=", "#", "-", ".", "is ", "11/29", "2029-11", "321",
              "1234", "123456", "/", "a", "1", "\n"]
    hits = 0
    for _ in range(30_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        lo = rng.randint(0, len(text))
        hi = rng.randint(lo, len(text))
        for plain, fast in zip(with_look_behind, finder.card_details):
            expected = [m.regs for m in plain.finditer(text, lo, hi)]
            assert [m.regs for m in pii._not_after_letter(fast, text, lo, hi)] == expected, (text, lo, hi)
            hits += bool(expected)
    assert hits > 200


def test_samples_cut_from_the_lower_cased_page_are_the_lower_cased_samples(data: dict[str, Any]) -> None:
    """Scanner.scan_many gives the language and page-kind guessers the page's lower-cased text
    to cut their samples from only where every prefix of it is the lower case of the page's
    prefix: never with a capital sigma (σ or final ς by what follows it) or a character whose
    lower case is two (İ); the guesses are the ones they make lower-casing the sample."""
    from enrich import scan
    from enrich.pagekind import PageKindGuesser

    langs, kinds = LanguageGuesser(data["lang"]), PageKindGuesser(data["pagekind"])
    rng = random.Random(11)
    alphabet = "ab ΣΑΣ. İI\u0130Xσ\nàĐ đ ก中 5g $ "
    texts = _pages() + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 1600))) for _ in range(400)]
    texts += ["ΟΔΟΣ " * 400, "x" * 1199 + "Σ" + "a", "İ" + "a" * 1500, "plain ascii title\n" * 100]
    shared = 0
    for text in texts:
        low, prefixes = scan._lower(text)
        assert len(low) == len(text)
        # a sigma or a two-character lower case anywhere: not shared, though some pages could be
        assert prefixes == ("Σ" not in text and len(text.lower()) == len(text))
        if prefixes:
            # every cut near the samples' lengths, and every 37th elsewhere
            cuts = set(range(0, len(text) + 1, 37)) | {n for c in (1200, 1500) for n in range(c - 3, c + 4) if n <= len(text)}
            assert all(low[:n] == text[:n].lower() for n in cuts), text
            shared += 1
            assert langs.guess(text, low) == langs.guess(text)
            assert kinds.guess(text, low=low) == kinds.guess(text)
    assert 50 < shared < len(texts)
