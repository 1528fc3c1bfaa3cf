"""Language guess without a model: script first, then Vietnamese letters, then function words."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_THAI_OR_HAN = re.compile(r"[\u0e00-\u0e7f\u4e00-\u9fff]")  # one pass where most pages have neither
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_NOT_THAI = re.compile(r"[^\u0e00-\u0e7f]+")
_NOT_HAN = re.compile(r"[^\u4e00-\u9fff]+")
_NOT_LATIN = re.compile(r"[^A-Za-z\u00c0-\u024f\u1e00-\u1eff]+")
_WORD = re.compile(r"[a-z][a-z]*")  # = [a-z]+, opening with a character class: searched by skipping ahead


class LanguageGuesser:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.vi_letters = re.compile("[" + re.escape(cfg["vi_letters"]) + "]")
        self.vi_min = float(cfg["vi_min_ratio"])
        self.stop = {lang: frozenset(words) for lang, words in cfg["stopwords"].items()}
        self.word_langs: dict[str, list[str]] = {}
        for lang, words in self.stop.items():
            for w in words:
                self.word_langs.setdefault(w, []).append(lang)
        self.sample = int(cfg["sample_chars"])

    def guess(self, text: str) -> str:
        """en, vi, th, id, ms, zh or und."""
        sample = text[: self.sample]
        if _THAI_OR_HAN.search(sample):
            # counted as what is left when every other character is removed (one C pass each)
            thai, han = len(_NOT_THAI.sub("", sample)), len(_NOT_HAN.sub("", sample))
            latin = len(_NOT_LATIN.sub("", sample))
            if thai and thai >= max(han, latin * 0.5):
                return "th"
            if han and han >= latin * 0.5:
                return "und" if len(_KANA_HANGUL.findall(sample)) > han * 0.2 else "zh"
        low = sample.lower()
        words = _WORD.findall(low)
        if not words:
            return "und"
        if len(self.vi_letters.findall(sample)) >= self.vi_min * sum(map(len, words)):
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
