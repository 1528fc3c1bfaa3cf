"""Language guess without a model: script first, then Vietnamese letters, then function words."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

# the scripts counted, as code point ranges (all in the Basic Multilingual Plane)
_THAI = [(0x0E00, 0x0E7F)]
_HAN = [(0x4E00, 0x9FFF)]
_KANA_HANGUL = [(0x3040, 0x30FF), (0xAC00, 0xD7AF)]
_LATIN = [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)]
# a character's class: bit 0 Thai, 1 Han, 2 kana/hangul, 3 Latin, 4 Vietnamese letter
_BITS = 5
# the [a-z]+ runs of a lower-cased text are the words of its ASCII bytes (every other character
# one "?") with every byte but a-z made a space: one encode, one translate, one split, in C
_ONLY_AZ = bytes(c if 0x61 <= c <= 0x7A else 0x20 for c in range(256))


class LanguageGuesser:
    def __init__(self, cfg: dict[str, Any]) -> None:
        # every script count in one pass: each UTF-16 code unit of the sample looked up in a
        # table of classes, the classes counted (np.bincount). A character outside the BMP is two
        # surrogate units, in no class (none of the ranges, nor a Vietnamese letter, is there)
        self.classes = np.zeros(0x10000, dtype=np.uint8)
        for bit, ranges in enumerate((_THAI, _HAN, _KANA_HANGUL, _LATIN)):
            for lo, hi in ranges:
                self.classes[lo : hi + 1] |= 1 << bit
        vi = [ord(c) for c in cfg["vi_letters"]]
        if any(c > 0xFFFF or 0xD800 <= c <= 0xDFFF for c in vi):
            raise ValueError("vi_letters: letters of the Basic Multilingual Plane only")
        self.classes[vi] |= 1 << 4
        # class -> the counts it adds to: row c holds bit b of c in column b
        self.members = np.array([[c >> b & 1 for b in range(_BITS)] for c in range(1 << _BITS)], dtype=np.int64)
        self.vi_min = float(cfg["vi_min_ratio"])
        self.stop = {lang: frozenset(words) for lang, words in cfg["stopwords"].items()}
        self.word_langs: dict[bytes, list[str]] = {}  # a function word that is not [a-z]+ is no word here
        for lang, words in self.stop.items():
            for w in words:
                if w.isascii() and w.isalpha() and w.islower():
                    self.word_langs.setdefault(w.encode("ascii"), []).append(lang)
        self.sample = int(cfg["sample_chars"])

    def guess(self, text: str, low: str | None = None) -> str:
        """en, vi, th, id, ms, zh or und. `low`: text.lower() when the caller has it and its
        prefixes are the lower case of text's prefixes (see enrich.scan)."""
        sample = text[: self.sample]
        thai, han, kana_hangul, latin, vi = self._counts(sample)
        if thai or han:
            if thai and thai >= max(han, latin * 0.5):
                return "th"
            if han and han >= latin * 0.5:
                return "und" if kana_hangul > han * 0.2 else "zh"
        low = sample.lower() if low is None else low[: self.sample]
        words = low.encode("ascii", "replace").translate(_ONLY_AZ).split()
        if not words:
            return "und"
        # (words is not empty: with no Vietnamese letter and a positive ratio, not Vietnamese)
        if (vi or self.vi_min <= 0) and vi >= self.vi_min * sum(map(len, words)):
            return "vi"
        counts = dict.fromkeys(self.stop, 0)
        # the function words among the words, counted in C; then each distinct one's languages
        for w, k in Counter(filter(self.word_langs.__contains__, words)).items():
            for lang in self.word_langs[w]:
                counts[lang] += k
        if not counts["en"] and not counts["idms"]:
            return "und"
        if counts["en"] >= counts["idms"]:
            return "en"
        return "ms" if counts["ms"] > counts["id"] else "id"

    def _counts(self, sample: str) -> tuple[int, int, int, int, int]:
        """How many of the sample's characters are Thai, Han, kana/hangul, Latin, Vietnamese letters."""
        units = np.frombuffer(sample.encode("utf-16-le", "surrogatepass"), dtype=np.uint16)
        return tuple((np.bincount(self.classes[units], minlength=1 << _BITS) @ self.members).tolist())  # type: ignore[return-value]
