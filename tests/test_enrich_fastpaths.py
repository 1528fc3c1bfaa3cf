"""The tagger's fast paths give exactly what the plain computation gives.

Each shortcut taken for speed (enrich.validators' phone validity from metadata, more of it in
tests/test_enrich_phone.py; enrich.pii's scan probes, enrich.pagekind's one-pass sentence count)
is compared with the computation it replaces, on real phone-number metadata and on generated
strings; the offer classifier's vocabulary stays bounded without changing a score.
"""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest

import configs
from enrich import Tagger, pagekind, pii
from enrich import validators as v
from enrich.scan import load_config


def _reference_phone_region(value: str, regions: list[str]) -> str | None:
    """phone_region's national branch without the precheck: parse in each region, validate."""
    for region in regions:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number_for_region(number, region):
            return region
    return None


def _regions() -> list[str]:
    cfg = load_config(configs.path("tagger"))["pii"]
    by_lang = [r for regions in cfg["phone_regions_by_lang"].values() for r in regions]
    return list(dict.fromkeys(by_lang + cfg["phone_regions_default"] + cfg["phone"]["context_regions"]))


def _national_values(regions: list[str], rng: random.Random) -> list[str]:
    """Example numbers of each region written as people write them (national format, bare,
    with trunk prefix, country code, international prefixes), then with digits changed."""
    values = []
    for region in regions:
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.TOLL_FREE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn, cc = phonenumbers.national_significant_number(example), str(example.country_code)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            values += [national, nsn, cc + nsn, "0" + nsn, "011" + cc + nsn, cc + " " + nsn, national + " x12"]
    mutated = []
    for _ in range(3000):
        chars = list(rng.choice(values))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(chars))
            if chars[at].isdigit():
                chars[at] = rng.choice("0123456789")
        mutated.append("".join(chars))
    return [x for x in values + mutated if not x.lstrip().startswith(("+", "00"))]


def test_phone_precheck_changes_no_answer() -> None:
    rng = random.Random(11)
    regions = _regions()
    values = _national_values(regions, rng)
    found = 0
    for value in values:
        expected = _reference_phone_region(value, [r for r in regions if v._possible_length(v.digits(value), r)])
        assert v.phone_region(value, regions) == expected, value
        found += expected is not None
    assert found > len(values) // 4  # the set holds plenty of valid numbers, not only misses


def test_phone_numbers_are_parsed_where_parsing_rewrites_digits() -> None:
    # Argentina, Brazil and Japan transform the national prefix while parsing: left to phonenumbers
    # (Canada is not: parse reads the US metadata once it has the country code, which has no rule)
    assert v._region_plans("AR") is None and v._region_plans("BR") is None and v._region_plans("JP") is None
    assert v._region_plans("US") is not None and v._region_plans("CA") is not None
    assert v._national_valid("0111234567", "BR") is None and v.phone_region("(11) 91234-5678", ["BR"]) == "BR"


@pytest.mark.parametrize("pattern", list(pii._PROBES))
def test_pii_probe_is_a_necessary_condition(pattern: re.Pattern[str]) -> None:
    rng = random.Random(5)
    # pieces of addresses, IDs, IBANs and card tracks, and what sits next to them
    pieces = ["1", "25", "192", "4111", "0123456", "412345678901", ".", ":", "::", " ", "a", "F", "fe80", "S", "m",
              "GB82", "WEST", "=", "D", "?", ";", "\n", "\u017f", "\u0663", "10.", "192.168.", ".7", " 1234", "GB82 WEST"]
    probe = pii._PROBES[pattern]
    hits = 0
    for _ in range(40_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        if pattern.search(text):
            hits += 1
            assert probe.search(text), text
    assert hits > 20  # the generated text does hold matches


def test_sentence_count_in_one_pass() -> None:
    stop, lower2 = re.compile(r"[.?!](?=\s|$)|[。？！]"), re.compile(r"[a-z\u00e0-\u1ef9]{2}$")

    def reference(s: str) -> int:
        return sum(1 for m in stop.finditer(s) if lower2.match(s, max(0, m.start() - 2), m.start()) or m.group()[0] in "。？！")

    rng = random.Random(3)
    alphabet = "ab.?! \n。？！Aàz1"
    for _ in range(50_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        assert len(pagekind._SENTENCE_STOP.findall(text)) == reference(text), text


def test_classifier_vocabulary_stays_bounded_with_the_same_scores() -> None:
    """The offer classifier's own vocabulary (outside the pipeline's memory zone) is reloaded
    after max_new_strings new strings: memory stays bounded, the scores do not change."""
    tagger, fresh = Tagger.load(), Tagger.load()
    clf = tagger.classifier
    baseline = len(clf.textcat_nlp.vocab.strings)
    clf.max_new_strings, clf.strings_limit = 300, baseline + 300
    pages = [f"buy w{i}x{j} cocaine 1g $50 " + " ".join(f"v{i}y{k}" for k in range(40)) for i in range(60) for j in range(2)]
    sizes = []
    for start in range(0, len(pages), 10):
        batch = pages[start : start + 10]
        assert clf.scores(batch) == fresh.classifier.scores(batch)
        sizes.append(len(clf.textcat_nlp.vocab.strings))
    assert max(sizes) <= baseline + 300 + 10 * 45  # at most one batch past the limit
    assert min(sizes[3:]) < max(sizes)  # it was reloaded, not grown without end
    assert tagger.tag_many(pages[:20]) == fresh.tag_many(pages[:20])


def test_number_scan_of_runs_gives_the_plain_scans_matches() -> None:
    """enrich.pii._numbers scans only the digit runs that hold a probe hit: the same matches as
    _NUM.finditer over the whole text, on generated phone, card and ID shapes and their edges."""
    rng = random.Random(17)
    pieces = ["1", "23", "456", "0", "00", "+", " ", ".", "-", "(", ")", "/", ",", "x", "ext", "e", "t", "a", "Z",
              "\u0663", "\u0e51", "\n", "@", "#", "12345", "1,234", "4111 1111", "(02) ", "+65 ", "  "]
    hits = 0
    for _ in range(60_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 24)))
        expected = [m.span() for m in pii._NUM.finditer(text)]
        assert [m.span() for m in pii._numbers(text)] == expected, text
        hits += bool(expected)
    assert hits > 2000


def test_negation_look_skips_only_stretches_without_a_match() -> None:
    """A stretch the verb look turns away (enrich.pipeline's _may_negate) has no negated sale
    phrase the token matcher would find."""
    core = Tagger.load(classifier="").core
    cues = core.data["cues"]["negation"]
    words = cues["negators"][:6] + cues["sale_verbs"][:8] + ["ivory", "Σ", "ΣELL", "SELL", "Sell", "do", "we", "never",
                                                               "it", "n't", "-", ".", "cocaine", "x"]
    rng = random.Random(23)
    skipped = found = 0
    for _ in range(4000):
        stretch = " ".join(rng.choice(words) for _ in range(rng.randint(1, 7)))
        matches = core._negations(core.tokenizer(stretch), 0)
        found += bool(matches)
        if not core._may_negate(stretch):
            skipped += 1
            assert not matches, stretch
    assert skipped > 200 and found > 200


def test_password_scan_without_look_behind_gives_the_same_matches() -> None:
    finder = Tagger.load(classifier="").core.scanner.pii
    rng = random.Random(29)
    pieces = ["password", "pass", "passwd", "pwd", "sandi", "kata sandi", "密码", "x", "_", "1", "\u00b2", " ", "\t", ":", "=",
              "é", "abc", "\n", "pass:", "mật khẩu"]
    hits = 0
    for _ in range(40_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        expected = [m.span(1) for m in finder.password.finditer(text)]
        assert [m.span(1) for m in pii._not_after_letter(finder.password_field, text)] == expected, text
        hits += bool(expected)
    assert hits > 2000


# scans PiiFinder.find runs only when a digit run _numbers scanned passes a look: track 2 after a
# run that "=" or "D" ends (its 12-19 digits are a run), NRIC/FIN where _PROBES[_SG] finds one in
# or just before a run (its seven digits are in one): (pattern, pieces of text, look)
_RUN_GATES = {
    "track2": (pii._TRACK2, ["4111111111111111", "411111111111", "1234", "=", "D", "d", ";", "?", " ", "-", ".", "1", "\u0663" * 12,
                            "x", "e", "t", "a"], lambda text, lo, hi: hi < len(text) and text[hi] in "=Dd"),
    "sg": (pii._SG, ["S", "t", "T", "\u017f", "m", "1234567", "7654321", "A", "z", " ", "-", "1", "x", "e", "(", "\u0663" * 7],
           lambda text, lo, hi: pii._PROBES[pii._SG].search(text, max(0, lo - 1), hi) is not None),
}


@pytest.mark.parametrize("gate", list(_RUN_GATES))
def test_scans_gated_by_digit_runs_miss_no_match(gate: str) -> None:
    pattern, pieces, look = _RUN_GATES[gate]
    rng = random.Random(31)
    hits = 0
    for _ in range(30_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        if pattern.search(text):
            hits += 1
            runs: list[tuple[int, int]] = []
            list(pii._numbers(text, runs))
            assert any(look(text, lo, hi) for lo, hi in runs), text
    assert hits > 300



def test_number_regexes_opening_with_a_class_match_as_first_written() -> None:
    """enrich.market's number regex (and the language guess's word regex) open with one
    character class so that the regex engine can skip ahead: the same matches."""
    from enrich import lang, market

    rng = random.Random(41)
    pieces = ["1", "12", "123", "1234", ".", ",", " ", "\u00a0", "000", "00", "a", "k", "\u0663", "-", "é", "Z"]
    fast, plain = re.compile(market._NUM), re.compile(market._NUM_PLAIN)
    for _ in range(40_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 16)))
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)], text
        assert [w.decode() for w in text.encode("ascii", "replace").translate(lang._ONLY_AZ).split()] == re.findall(r"[a-z]+", text)


@pytest.mark.parametrize("pattern", list(pii._AFTER_NEWLINE))
def test_line_anchored_scan_after_newlines_gives_the_same_matches(pattern: re.Pattern[str]) -> None:
    rng = random.Random(43)
    pieces = ["\n", "\r\n", " ", "\t", "user", "a@b.co", ":", ";", "|", " | ", "=", "pass1234", "Name", "DOB", "- ", "• ",
              "1990-01-01", "x", "\u00e9", "ab", "user:pass1234 | US"]
    hits = 0
    for _ in range(30_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 18)))
        expected = [(m.start(), m.regs) for m in pattern.finditer(text)]
        got = [(start, m.regs[1:], m.end()) for start, m in pii._line_matches(pattern, text)]
        assert got == [(start, regs[1:], regs[0][1]) for start, regs in expected], text
        hits += bool(expected)
    assert hits > 300


def test_email_and_long_token_scans_give_the_plain_scans_matches() -> None:
    """enrich.pii's _emails (one try per "@") and _long_runs (runs of 15+ letters and digits) give
    what _EMAIL.finditer and _LONG_TOKEN.finditer give."""
    rng = random.Random(47)
    pieces = ["a", "bob", "x.y", "@", "@@", "example.com", ".", "-", "_", "%", "+", " ", "\n", "é", "co", "a" * 30, "b" * 60,
              "9" * 14, "Z" * 111, "c" * 15, "/", "0x", "1", "@example.com", "bob@mail.example.org", "a" * 64 + "@b.io"]
    hits = 0
    for _ in range(40_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        expected = [m.span() for m in pii._EMAIL.finditer(text)]
        assert [m.span() for m in pii._emails(text)] == expected, text
        assert pii._long_runs(text) == [m.span() for m in pii._LONG_TOKEN.finditer(text)], text
        hits += bool(expected)
    assert hits > 1000



def test_quote_regex_opening_with_the_quote_matches_as_first_written() -> None:
    from enrich import offers

    plain = re.compile(r'“[^”\n]{10,800}”|「[^」\n]{10,800}」|(?<![\w"])"(?=[^\s"\d])[^"\n]{10,800}(?<=[^\s"])"(?!\w)')
    rng = random.Random(59)
    pieces = ['"', "“", "”", "「", "」", "a", "word here ", "1", " ", "\n", "x" * 9, "_", "é", '""']
    hits = 0
    for _ in range(40_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        expected = [m.span() for m in plain.finditer(text)]
        assert [m.span() for m in offers._QUOTE.finditer(text)] == expected, text
        hits += bool(expected)
    assert hits > 1000


def test_lexicon_matches_from_either_automaton_are_the_same() -> None:
    """enrich.lexicon scans with ahocorasick_rs (pyahocorasick when the text cannot be encoded as
    UTF-8): every occurrence of every key from both, on generated text with the lexicon's own
    words, other scripts and astral characters."""
    scanner = Tagger.load(classifier="").core.scanner
    rng = random.Random(61)
    for keys in (scanner.lexicon.keys, scanner.page_kinds.cues):
        pieces = [rng.choice(keys.keys) for _ in range(300)] + [" ", "-", ".", "x", "é", "\U0001f600", "ข", "不", "\n", "ß"]
        for _ in range(3000):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
            assert sorted(keys.matches(text)) == sorted(keys.plain_matches(text)), text
    assert scanner.lexicon.scan("we sell \udcff cocaine")  # lone surrogate: the pyahocorasick path


def test_delimited_line_look_is_a_necessary_condition() -> None:
    rng = random.Random(67)
    pieces = ["a", "user", "x@y.z", ":", ";", "|", ",", "\t", " ", "  ", "1", "é", "-"]
    hits = 0
    for _ in range(40_000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        if pagekind._DELIMITED.match(line):
            hits += 1
            assert pagekind._may_be_delimited(line), line
    assert hits > 2000
