"""Seeds, checked before anything starts: each bad seed gets one line naming it and the reason.

A seeds argument is a file of URLs / onion addresses (one a line, ``#`` comments) or a list
separated by commas, newlines or spaces. Every seed is checked on its own:

  not a URL          "not a url at all", "ftp://…", "http://"
  not .onion         a clearnet host (refused unless the crawl allows clearnet, still via Tor)
  v2                 a 16-character address: v2 onion services no longer exist on Tor
  bad checksum       56 base32 characters whose checksum or version byte is wrong (a typo)
  bad length         any other label length
  too long           longer than URLLENGTH_LIMIT
  missing file       an argument that names a file (a path or a file name) that is not there
  empty list         a file or list with no seed in it

``check_seeds`` returns the valid seeds as URLs (in order, duplicates dropped) and one
``SeedProblem`` per bad seed; the caller decides what to print and whether anything is left
to crawl.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from crawler.onion import is_valid_v3

_BASE32 = re.compile(r"^[a-z2-7]+$")
# An argument without "://" that looks like a file name rather than an address.
_FILE_SUFFIXES = (".txt", ".lst", ".list", ".csv", ".tsv", ".seeds", ".json", ".jsonl", ".conf")
MAX_SEED_CHARS = 80  # how much of a bad seed a message quotes


@dataclass(frozen=True)
class SeedProblem:
    """One seed that will not be crawled, and why (a complete sentence for the operator)."""

    seed: str
    reason: str

    def __str__(self) -> str:
        return f"seed {_quote(self.seed)}: {self.reason}" if self.seed else self.reason


@dataclass(frozen=True)
class SeedCheck:
    urls: list[str]
    problems: list[SeedProblem]
    source: str  # "file PATH" or "list"


def _quote(seed: str) -> str:
    shown = seed if len(seed) <= MAX_SEED_CHARS else seed[:MAX_SEED_CHARS] + "…"
    return repr(shown)


def _looks_like_path(spec: str) -> bool:
    s = spec.strip()
    if not s or "://" in s or "," in s or "\n" in s:
        return False
    if len(s.split()) > 1:
        return False
    if s.startswith(("/", "./", "../", "~")) or "\\" in s:
        return True
    if "/" in s and not s.split("/", 1)[0].lower().endswith(".onion"):
        return True  # dir/seeds.txt, not abc.onion/path
    return s.lower().endswith(_FILE_SUFFIXES)


def _split(text: str) -> list[str]:
    """Seeds of a list or a file line: separated by commas and newlines; a part with inner
    spaces is split on them only if every word looks like an address, so "not a url at all"
    stays one (bad) seed instead of five."""
    items: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for part in line.split(","):
            part = part.strip()
            if not part:
                continue
            words = part.split()
            if len(words) > 1 and not all("." in w or "://" in w for w in words):
                items.append(part)
            else:
                items.extend(words)
    return items


def read_seed_items(spec: str) -> tuple[list[str], str, list[SeedProblem]]:
    """(raw seed strings, where they came from, problems reading them)."""
    path = Path(spec.strip()).expanduser() if spec.strip() and "\n" not in spec else None
    try:
        is_file, is_dir = (path.is_file(), path.is_dir()) if path is not None else (False, False)
    except OSError:  # a long comma-separated list is no file name ("File name too long")
        path, is_file, is_dir = None, False, False
    if is_file:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return [], f"file {path}", [SeedProblem(str(path), f"seeds file cannot be read ({type(exc).__name__})")]
        return _split(text), f"file {path}", []
    if is_dir:
        return [], f"directory {path}", [SeedProblem(str(path), "is a directory, not a seeds file")]
    if _looks_like_path(spec):
        return [], f"file {spec.strip()}", [SeedProblem(spec.strip(), "seeds file not found")]
    return _split(spec), "list", []


def check_seed(item: str, *, allow_clearnet: bool = False, max_url: int = 0) -> tuple[str | None, str | None]:
    """(URL to crawl, None) for a good seed, (None, reason) for a bad one."""
    raw = item.strip()
    text = raw if "://" in raw else f"http://{raw}"
    if any(c.isspace() for c in raw) or any(ord(c) < 32 for c in raw):
        return None, "not a URL or onion address (it contains spaces or control characters)"
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return None, "not a URL (cannot be parsed)"
    if parts.scheme.lower() not in ("http", "https"):
        return None, f"not an http(s) URL (scheme {parts.scheme!r})"
    if not host:
        return None, "not a URL (no host)"
    if "." not in host and not host.startswith("["):
        return None, "not a URL or onion address"
    if not host.endswith(".onion"):
        if allow_clearnet:
            return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")), None
        return None, "not an onion address (a clearnet host): the crawler only visits onion services"
    label = host.removesuffix(".onion").rsplit(".", 1)[-1]
    if len(label) == 16 and _BASE32.match(label):
        return None, "a v2 onion address (16 characters): v2 onion services no longer exist on Tor"
    if len(label) != 56:
        return None, f"not a valid onion address ({len(label)} characters; a v3 address has 56)"
    if not _BASE32.match(label):
        return None, "not a valid v3 onion address (characters outside base32 a-z, 2-7)"
    if not is_valid_v3(label + ".onion"):
        return None, f"not a valid v3 onion address: {_v3_defect(label)} (mistyped?)"
    url = urlunsplit(("http" if parts.scheme.lower() == "http" else "https", parts.netloc.lower(),
                      parts.path or "/", parts.query, ""))
    if max_url and len(url) > max_url:
        return None, f"URL longer than {max_url} characters (URLLENGTH_LIMIT)"
    return url, None


def _v3_defect(label: str) -> str:
    try:
        raw = base64.b32decode(label.upper())
    except (binascii.Error, ValueError):
        return "not base32"
    if raw[34] != 3:
        return f"version byte is {raw[34]}, not 3"
    return "checksum does not match"


def check_seeds(spec: str, *, allow_clearnet: bool = False, max_url: int = 0) -> SeedCheck:
    """Read and check every seed; see the module docstring for the reasons."""
    items, source, problems = read_seed_items(spec)
    if not items and not problems:
        if source.startswith("file"):
            problems.append(SeedProblem(spec.strip(), "the seeds file is empty (no seed, only blank lines or comments)"))
        else:
            problems.append(SeedProblem(spec.strip(), "the seed list is empty" if spec.strip() else "no seeds given"))
    urls: dict[str, None] = {}
    for item in items:
        url, reason = check_seed(item, allow_clearnet=allow_clearnet, max_url=max_url)
        if url is None:
            problems.append(SeedProblem(item, reason or "invalid"))
        else:
            urls.setdefault(url, None)
    return SeedCheck(list(urls), problems, source)
