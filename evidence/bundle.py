"""Evidence bundles: build one from stored captures, and verify one.

Layout of a bundle directory::

    manifest.json              every other file with its SHA-256 and size; the captures; the log range
    report.html                for people: what, when, how (Tor, no clearnet), by whom, case, hashes
    warc/captures.warc.gz      WARC/1.1: request + response (or masked conversion) per capture
    screenshots/<id>.png       offline renderings of the stored bytes (+ .pdf if asked)
    text/<id>.json             extracted (masked) text, tags, and the evidence spans behind each tag
    journal/captures.jsonl     the capture-log excerpt: chain hashes, other captures withheld
    timestamp/manifest.tsr     RFC 3161 token over manifest.json (optional) + timestamp/tsa-ca.pem

Personal data leaves only masked unless ``include_pii``: a page whose stored entities include
personal identifiers gets a masked rendering (its original body is represented by its SHA-256
only); if the masking cannot find every value in the markup, no rendering leaves at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

import configs
from evidence import sanitize, warc
from evidence import tsa as tsa_mod
from journal import Journal, canonical, utc_now, verify_entries
from journal.chain import parse_lines

FORMAT = "onionwatch-evidence/1"
PUBLIC_LABELS = frozenset({"ONION_ADDRESS", "CRYPTO"})  # identifiers of services and payees, not of people
TEXT_TYPES = ("text/", "application/xhtml+xml", "application/xml", "application/json")
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
CONTEXT = 60


class BundleError(RuntimeError):
    """The bundle cannot be made (nothing selected, output not empty, ...)."""


@dataclass
class Capture:
    """One stored page and what we hold for it."""

    page: dict[str, Any]  # the stored page document (masked text, entities, tags)
    body: bytes | None  # the verified raw body from the snapshot store, None if unavailable
    journal_seq: int | None = None
    response_headers: list[tuple[str, str]] | None = None

    @property
    def id(self) -> str:
        pid = str(self.page.get("doc_id") or hashlib.sha256(f"{self.page.get('url')}\n{self.page.get('sha256')}".encode()).hexdigest()[:40])
        return pid if _SAFE_ID.match(pid) else hashlib.sha256(pid.encode()).hexdigest()[:40]


@dataclass
class Options:
    operator: str = ""
    case: str = ""
    selection: str = ""
    include_pii: bool = False
    screenshots: bool = True
    pdf: bool = False
    isolate: bool = True
    tool_version: str = "0"
    tsa_url: str | None = None
    tsa_ca: bytes | None = None
    tsa_proxies: dict[str, str] | None = None


@dataclass
class Result:
    out: Path
    manifest_sha256: str
    captures: int
    screenshots: int
    withheld: list[str] = field(default_factory=list)
    timestamp: str | None = None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _excerpt(text: str, start: Any, end: Any) -> dict[str, str] | None:
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end <= len(text):
        return None
    lo, hi = max(0, start - CONTEXT), min(len(text), end + CONTEXT)
    return {"before": text[lo:start], "match": text[start:end], "after": text[end:hi]}


def text_record(page: dict[str, Any]) -> dict[str, Any]:
    """The extracted text with its tags and the spans behind each tag (masked text only)."""
    text = page.get("text") or ""
    return {
        "url": page.get("url"), "onion": page.get("onion"), "fetched_at": page.get("fetched_at"),
        "sha256": page.get("sha256"), "title": page.get("title"), "lang": page.get("lang"),
        "categories": page.get("categories") or [],
        "evidence": [dict({k: ev.get(k) for k in ("category", "kind", "term", "start", "end")},
                          excerpt=_excerpt(text, ev.get("start"), ev.get("end"))) for ev in page.get("evidence") or []],
        "entities": [{k: e.get(k) for k in ("label", "start", "end", "masked", "hash")} for e in page.get("entities") or []],
        "offers": page.get("offers") or [],
        "text": text,
        "text_is": "the page's visible text with personal data masked in place (offsets of spans refer to it)",
    }


def personal_forms(page: dict[str, Any]) -> list[str]:
    return [e.get("masked") or "" for e in page.get("entities") or [] if e.get("label") not in PUBLIC_LABELS]


def _is_text(content_type: str) -> bool:
    ct = (content_type or "text/html").lower()
    return any(ct.startswith(t) for t in TEXT_TYPES)


def build(out: str | os.PathLike[str], captures: list[Capture], opts: Options, *,
          journal: Journal | None = None, renderer: Callable[..., Any] | None = None) -> Result:
    """Write a bundle for ``captures`` into the empty or new directory ``out``."""
    if not captures:
        raise BundleError("nothing to export: the selection matched no stored page")
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise BundleError(f"{root} is not empty; give a new directory")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    owned = None
    if renderer is None and opts.screenshots and captures:
        from evidence.render import Renderer

        owned = Renderer(isolate=opts.isolate)  # one browser for the whole bundle
        renderer = owned.render
    try:
        return _build(root, captures, opts, journal, renderer)
    finally:
        if owned is not None:
            owned.close()


def _build(root: Path, captures: list[Capture], opts: Options, journal: Journal | None,
           renderer: Callable[..., Any] | None) -> Result:
    created = utc_now()
    crawls = sorted({str(c.page.get("crawl_id") or "?") for c in captures})
    entries: list[dict[str, Any]] = []
    withheld: list[str] = []
    shots = 0
    warc_rel = "warc/captures.warc.gz"
    (root / "warc").mkdir(mode=0o700)
    journal_by_seq = {}
    if journal is not None:
        for c in captures:
            if c.journal_seq:
                e = journal.get(c.journal_seq)
                if e is not None:
                    journal_by_seq[c.journal_seq] = e
    with warc.Warc(root / warc_rel, operator=opts.operator, crawl=", ".join(crawls),
                   software=f"onionwatch {opts.tool_version}",
                   extra={"onionwatch-case": opts.case, "onionwatch-selection": opts.selection,
                          "onionwatch-route": "Tor (SOCKS, remote DNS); onion services only, no clearnet"}) as w:
        for c in sorted(captures, key=lambda c: (c.page.get("fetched_at") or "", c.page.get("url") or "")):
            p = c.page
            cid = c.id
            item: dict[str, Any] = {
                "id": cid, "url": p.get("url"), "onion": p.get("onion"), "fetched_at": p.get("fetched_at"),
                "status": p.get("status"), "content_type": p.get("content_type"), "size": p.get("size"),
                "sha256": p.get("sha256"), "crawl_id": p.get("crawl_id"), "title": p.get("title"),
                "categories": p.get("categories") or [],
                "evidence_terms": sorted({str(ev.get("term")) for ev in p.get("evidence") or [] if ev.get("term")})[:30],
                "warc": None, "screenshot": None, "pdf": None, "withheld": None, "journal": None, "blocked": 0,
            }
            if c.journal_seq in journal_by_seq:
                item["journal"] = {"seq": c.journal_seq, "hash": journal_by_seq[c.journal_seq].hash}
            text_rel = f"text/{cid}.json"
            _write(root / text_rel, json.dumps(text_record(p), ensure_ascii=False, indent=1).encode())
            item["text_file"] = text_rel
            body = c.body
            if body is not None and hashlib.sha256(body).hexdigest() != p.get("sha256"):
                raise BundleError(f"{p.get('url')}: stored body does not match its SHA-256; not exported")
            render_html: str | None = None
            if body is None:
                item["withheld"] = "the stored body is not available"
            elif not _is_text(p.get("content_type") or ""):
                item["withheld"] = "not a text page (media are never exported)"
            else:
                forms = [f for f in personal_forms(p) if f]
                clean = sanitize.sanitise(body, p.get("content_type") or "text/html")
                if forms and not opts.include_pii:
                    masked, missing = sanitize.mask_values(clean.html, forms)
                    if missing:
                        item["withheld"] = (f"personal data could not be located in the markup for masking "
                                            f"({len(missing)} value(s)); no rendering exported")
                        content, ctype = (p.get("text") or "").encode(), "text/plain; charset=utf-8"
                    else:
                        render_html = masked
                        content, ctype = masked.encode(), "text/html; charset=utf-8"
                    written = w.conversion(url=p["url"], fetched_at=p["fetched_at"], content=content, content_type=ctype,
                                           original_sha256=p["sha256"],
                                           reason="personal data masked; original body withheld")
                else:
                    render_html = clean.html
                    written = w.capture(url=p["url"], fetched_at=p["fetched_at"], status=int(p.get("status") or 200),
                                        body=body, content_type=p.get("content_type") or "",
                                        response_headers=c.response_headers)
                item["warc"] = {"file": warc_rel, "record_id": written.record_id, "record_type": written.record_type,
                                "request_id": written.request_id, "payload_digest": written.payload_digest}
            if render_html is not None and opts.screenshots and renderer is not None:
                png_rel = f"screenshots/{cid}.png"
                (root / "screenshots").mkdir(mode=0o700, exist_ok=True)
                pdf_rel = f"screenshots/{cid}.pdf" if opts.pdf else None
                result = renderer(render_html, root / png_rel, pdf=(root / pdf_rel) if pdf_rel else None,
                                  isolate=opts.isolate)
                for rel in (png_rel, pdf_rel):
                    if rel and (root / rel).exists():
                        os.chmod(root / rel, 0o600)
                item.update(screenshot=png_rel, pdf=pdf_rel, blocked=len(result.blocked),
                            screenshot_cut=bool(result.cut))
                shots += 1
            if item["withheld"]:
                withheld.append(f"{p.get('url')}: {item['withheld']}")
            entries.append(item)
    journal_info = None
    seqs = {e["journal"]["seq"] for e in entries if e["journal"]}
    if journal is not None and seqs:
        part = journal.excerpt(seqs)
        rel = "journal/captures.jsonl"
        _write(root / rel, b"".join(canonical(e) + b"\n" for e in part))
        journal_info = {"file": rel, "first_seq": part[0]["seq"], "last_seq": part[-1]["seq"], "anchor": part[0]["prev"],
                        "last_hash": part[-1]["hash"]}
    manifest: dict[str, Any] = {
        "format": FORMAT, "created_at": created, "operator": opts.operator, "case": opts.case,
        "tool": {"name": "onionwatch", "version": opts.tool_version},
        "selection": {"description": opts.selection}, "include_pii": opts.include_pii,
        "route": "Tor only: onion services via Tor SOCKS with remote DNS; no clearnet request",
        "captures": entries, "journal": journal_info, "timestamp_requested": bool(opts.tsa_url),
    }
    files = [{"path": str(p.relative_to(root)), "sha256": sha256_file(p), "size": p.stat().st_size}
             for p in sorted(root.rglob("*")) if p.is_file()]
    onions = sorted({e["onion"] for e in entries if e["onion"]})
    times = sorted(e["fetched_at"] for e in entries if e["fetched_at"])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(configs.path("evidence"))), autoescape=True)
    report = env.get_template("report.html.j2").render(m=manifest, files=files, onions=onions,
                                                       first_seen=times[0] if times else "?",
                                                       last_seen=times[-1] if times else "?")
    _write(root / "report.html", report.encode())
    files.append({"path": "report.html", "sha256": sha256_file(root / "report.html"),
                  "size": (root / "report.html").stat().st_size})
    manifest["files"] = sorted(files, key=lambda f: f["path"])
    data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    _write(root / "manifest.json", data)
    stamp = None
    if opts.tsa_url:
        got = tsa_mod.request(data, opts.tsa_url, proxies=opts.tsa_proxies)
        _write(root / "timestamp" / "manifest.tsr", got.token)
        if opts.tsa_ca:
            _write(root / "timestamp" / "tsa-ca.pem", opts.tsa_ca)
        stamp = got.gen_time
    return Result(root, hashlib.sha256(data).hexdigest(), len(entries), shots, withheld, stamp)


# -- verification ------------------------------------------------------------------------

def verify(path: str | os.PathLike[str], *, tsa_ca: bytes | None = None) -> list[str]:
    """Every problem found, most specific first per file; [] when the bundle holds."""
    root = Path(path)
    problems: list[str] = []
    try:
        manifest_bytes = (root / "manifest.json").read_bytes()
        manifest = json.loads(manifest_bytes)
        files = {f["path"]: f for f in manifest["files"]}
        captures = manifest["captures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"manifest.json: unreadable or not a bundle manifest ({type(exc).__name__})"]
    if manifest.get("format") != FORMAT:
        problems.append(f"manifest.json: unknown format {manifest.get('format')!r}")
    # 1. the time-stamp, over the manifest bytes exactly
    tsr = root / "timestamp" / "manifest.tsr"
    if tsr.exists():
        ca = tsa_ca or ((root / "timestamp" / "tsa-ca.pem").read_bytes() if (root / "timestamp" / "tsa-ca.pem").exists() else None)
        if ca is None:
            problems.append("timestamp/manifest.tsr: no CA certificate to check it with (give --tsa-ca)")
        else:
            try:
                tsa_mod.verify(tsr.read_bytes(), manifest_bytes, ca)
            except tsa_mod.TimestampError as exc:
                problems.append(f"timestamp/manifest.tsr: {exc} (manifest.json or the token was changed)")
    elif manifest.get("timestamp_requested"):
        problems.append("timestamp/manifest.tsr: missing although the bundle was time-stamped")
    # 2. deep checks of the WARC and the capture log, then every file's hash
    deep: dict[str, list[str]] = {}
    by_record: dict[str, warc.ReadRecord] = {}
    for rel in sorted(p for p in files if p.endswith((".warc.gz", ".warc"))):
        try:
            for rec in warc.read(root / rel):
                by_record[rec.record_id] = rec
        except FileNotFoundError:
            pass
        except warc.WarcReadError as exc:
            deep.setdefault(rel, []).append(f"{rel}: {exc}")
    jinfo = manifest.get("journal")
    chain: dict[int, dict[str, Any]] = {}
    if jinfo:
        rel = jinfo["file"]
        try:
            with open(root / rel, "rb") as fh:
                lines = list(parse_lines(fh, rel))
            problem, last_seq, last_hash = verify_entries(iter(lines), anchor=jinfo["anchor"], first_seq=jinfo["first_seq"])
            if problem:
                deep.setdefault(rel, []).append(str(problem))
            elif last_seq != jinfo["last_seq"] or last_hash != jinfo["last_hash"]:
                deep.setdefault(rel, []).append(f"{rel}: ends at seq {last_seq}, manifest says {jinfo['last_seq']} "
                                                "(entries removed at the end)")
            chain = {e["seq"]: e for _, e in lines if isinstance(e, dict) and isinstance(e.get("seq"), int)}
        except FileNotFoundError:
            pass
    for c in captures:
        label = f"capture {c.get('url')}"
        w = c.get("warc")
        if w and w["file"] not in deep:
            rec = by_record.get(w["record_id"])
            if rec is None:
                deep.setdefault(w["file"], []).append(f"{w['file']}: record {w['record_id']} of {label} is missing")
            elif w["record_type"] == "response" and rec.payload_sha256 != c.get("sha256"):
                deep.setdefault(w["file"], []).append(f"{w['file']}: {label}: payload SHA-256 differs from the capture's")
            elif w["record_type"] == "conversion" and warc.hex_of_label(
                    rec.headers.get("WARC-Onionwatch-Original-Payload-Digest", "")) != c.get("sha256"):
                deep.setdefault(w["file"], []).append(f"{w['file']}: {label}: original digest differs from the capture's")
        j = c.get("journal")
        if j and jinfo and jinfo["file"] not in deep:
            entry = chain.get(j["seq"])
            if entry is None or entry.get("withheld") or entry.get("hash") != j["hash"]:
                deep.setdefault(jinfo["file"], []).append(f"{jinfo['file']}: capture entry seq {j['seq']} of {label} "
                                                          "is missing or changed")
            elif (entry.get("payload") or {}).get("sha256") != c.get("sha256"):
                deep.setdefault(jinfo["file"], []).append(
                    f"{jinfo['file']}: entry seq {j['seq']} records another SHA-256 than {label}")
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    for rel in sorted(files):
        problems += deep.get(rel, [])
        f = files[rel]
        if rel not in on_disk:
            problems.append(f"{rel}: missing")
        elif sha256_file(root / rel) != f["sha256"]:
            problems.append(f"{rel}: SHA-256 does not match manifest.json (file changed)")
    extra = sorted(on_disk - set(files) - {"manifest.json", "timestamp/manifest.tsr", "timestamp/tsa-ca.pem"})
    problems += [f"{rel}: not listed in manifest.json (file added)" for rel in extra]
    return problems
