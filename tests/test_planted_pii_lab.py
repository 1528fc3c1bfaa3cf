"""Planted PII, end to end: the lab's leak site serves a paste of generated, checksum-valid FAKE
personal data of every kind the tagger knows in every layout a dump is written in
(configs/lab/leak/pastes/planted-pii.yaml, made by lab/planted.py, its `planted` list the
truth). A real crawl through the lab's Tor network indexes it into the embedded
Elasticsearch-compatible server under a temporary ONIONWATCH_HOME; then EVERY file at rest is
read byte by byte — the server's data directory, the journal (entries and sealed bodies), the
crawl's summary and state files, its stdout/stderr (verbose: Scrapy's own log too) — and no
planted value may be there in clear, in its written form or its common normalised forms. One
documented exception: payment addresses are public kinds that the identifiers index keeps in
clear to pivot on (docs/listings.md), in the index and in the journaled record: the test checks
they are there, and nowhere but in an identifier's `display`.

Not vacuous: the indexed page must show each planted kind among its entities, a canary word in
the page's (non-personal) text must be found in the server's files and the journal (so a clear
value would have been found too), and the snapshot and the journal's copy of the raw body must
be ciphertext that decrypts, with the key, to a body holding the planted values.

The fast tests check the paste without a server: it is what the generator makes, every value
passes its own validator, and the page as the crawler extracts it is masked in full.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from tests.fixtures_lab import REPO, lab_env, site

PASTE = REPO / "configs" / "lab" / "leak" / "pastes" / "planted-pii.yaml"
CANARY = "PLANTEDCANARYQX7"
_DISPLAY = re.compile(rb'"display": ?"[^"]*"')
PII_KEY = "planted-pii-test-hmac-key"
SNAPSHOT_KEY = "planted-pii-test-snapshot-key"
# the labels a planted kind may be found under (a name/DOB/address is a field of a personal record)
LABELS = {
    "NAME": {"PERSONAL_FIELD", "CARD_TRACK"}, "DOB": {"PERSONAL_FIELD"}, "ADDRESS": {"PERSONAL_FIELD"},
    "CARD_DETAIL": {"CARD_DETAIL", "PERSONAL_FIELD"}, "PASSWORD": {"PASSWORD", "CREDENTIAL"},
}


def planted() -> list[dict[str, Any]]:
    return yaml.safe_load(PASTE.read_text(encoding="utf-8"))["planted"]


def clear_forms(entry: dict[str, Any]) -> set[str]:
    """Every string that would be this value in clear: as written, its probes (a short value
    with what surrounds it: "cvv 321", "|11/29|"), digits without separators, E.164 phones,
    lower-case emails, compact IBANs."""
    import phonenumbers

    value, kind = entry["value"], entry["kind"]
    forms = set(entry.get("probes") or [])
    if kind != "CARD_DETAIL":  # "321" alone is in every binary file: its probes say it in context
        forms.add(value)
    digits = "".join(c for c in value if c.isdigit())
    if kind not in ("CARD_DETAIL", "CRYPTO", "EMAIL_ADDRESS", "PASSWORD", "NAME", "ADDRESS") and len(digits) >= 8:
        forms.add(digits)
    if kind == "PHONE_NUMBER":  # E.164 in whichever region the written form is valid
        for region in (None,) if value.startswith("+") else ("TH", "VN", "ID", "MY", "SG", "PH", "US"):
            try:
                number = phonenumbers.parse(value, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                forms.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    if kind == "EMAIL_ADDRESS":
        forms.add(value.lower())
    if kind == "CRYPTO":
        forms.add(_coin(value))
    if kind == "IBAN_CODE":
        forms.add(value.replace(" ", "").upper())
    return {f for f in forms if len(f) >= 5}


def _coin(value: str) -> str:
    """A coin address as the identifiers index normalises it (hex and bech32 in lower case)."""
    return value.lower() if value[:2] == "0x" or value[:3].lower() == "bc1" else value


def leaks(data: bytes, entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    out = []
    for e in entries:
        for form in clear_forms(e):
            if form.encode() in data:
                out.append((e["kind"], e["layout"], form))
    return out


def page_text() -> str:
    """The paste page as the lab renders it, as the crawler extracts its text (no server)."""
    from crawler.extract import extract

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(REPO / "configs" / "lab" / "templates"), autoescape=True)
    item = yaml.safe_load(PASTE.read_text(encoding="utf-8"))
    html = env.get_template("leak/paste.html.j2").render(item=item, site={"title": "QuietBin", "lang": "en", "data": {}})
    return extract(html, "http://planted.onion/paste/planted-pii").text


# -- fast: the paste itself -------------------------------------------------------------------------

def test_the_paste_is_what_the_generator_makes() -> None:
    from lab import planted as gen

    assert PASTE.read_text(encoding="utf-8") == gen.render(gen.build()), "run: python -m lab.planted"


def test_every_planted_value_passes_its_own_check() -> None:
    from stdnum import luhn

    from enrich import validators as v

    checks = {
        "CREDIT_CARD": v.is_card, "TH_TNIN": v.is_th_tnin, "MY_NRIC": v.is_my_nric, "ID_NIK": v.is_id_nik,
        "SG_NRIC_FIN": v.is_sg_nric_fin, "US_SSN": v.is_us_ssn, "PH_SSS": v.is_ph_sss, "PH_TIN": v.is_ph_tin,
        "IBAN_CODE": lambda x: v.is_iban(x.replace(" ", "")), "IP_ADDRESS": v.is_ip,
        "CRYPTO": lambda x: v.is_btc(x) or v.is_eth(x) or v.is_xmr(x),
        "VN_CCCD": lambda x: v.is_vn_cccd(x, ["001", "079", "048", "031"]),
        "PHONE_NUMBER": lambda x: v.phone_region(x, ["TH", "VN", "ID", "MY", "SG", "PH", "US"]) is not None,
        "CARD_TRACK": lambda x: luhn.is_valid(re.search(r"\d{12,19}", x).group()),
    }
    entries = planted()
    for e in entries:
        if e["kind"] in checks:
            assert checks[e["kind"]](e["value"]), e
    kinds = {e["kind"] for e in entries}
    assert kinds >= set(checks) | {"NAME", "DOB", "ADDRESS", "CARD_DETAIL", "PASSWORD", "EMAIL_ADDRESS"}
    assert {e["layout"] for e in entries} >= {"csv", "tsv", "pipe", "semicolon", "markdown", "html table",
                                               "key=value", "vertical", "combo", "free text", "track"}
    crypto = [e["value"] for e in entries if e["kind"] == "CRYPTO"]
    assert any(c.startswith("1") for c in crypto) and any(c.startswith("bc1") for c in crypto)
    assert any(c.startswith("0x") for c in crypto) and any(len(c) == 95 for c in crypto)


def test_the_extracted_page_is_masked_in_full() -> None:
    from enrich import Tagger
    from enrich.protect import protect

    text = page_text()
    entries = planted()
    on_page = [e for e in entries if (e.get("probes") or [e["value"]])[0] in text]
    assert len(on_page) == len(entries), [e for e in entries if e not in on_page][:3]
    masked, stored = protect(text, Tagger.load().tag(text)["entities"], PII_KEY.encode())
    assert leaks(masked.encode(), entries) == []
    labels = {s["label"] for s in stored}
    for kind in {e["kind"] for e in entries}:
        assert LABELS.get(kind, {kind}) & labels, f"{kind} never recognised"


# -- slow: the lab, the crawl, everything at rest ---------------------------------------------------

def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.mark.slow
def test_planted_pii_is_nowhere_in_clear_at_rest(lab, tmp_path) -> None:
    from elasticsearch import Elasticsearch

    from index import Names
    from index.identifiers import IDENTIFIERS, PUBLIC_KINDS
    from index.snapshots import CODEC, SnapshotError, unseal
    from journal import Journal
    from journal.blobs import BlobStore
    from onionwatch import es_server

    entries = planted()
    home = tmp_path / "home"
    env = dict(lab_env(lab, home), ONIONWATCH_INDEX_PREFIX="planted", ONIONWATCH_PII_KEY=PII_KEY,
               ONIONWATCH_SNAPSHOT_KEY=SNAPSHOT_KEY)
    env.pop("ONIONWATCH_ES_URL", None)  # the embedded server, in <home>/es
    url = f"http://{site(lab, 'leak')['onion']}/paste/planted-pii"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "onionwatch", "crawl", "--seeds", url, "--max-depth", "0",
                           "--timeout", "20", "--summary-json", "-v"],
                          check=False, cwd=REPO, env=env, capture_output=True, timeout=600)
    crawl_seconds = time.monotonic() - started
    data_dir = home / "es"
    try:
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
        server = es_server.status(data_dir)
        assert server is not None
        es = Elasticsearch(server.url)
        names = Names("planted")
        es.indices.refresh(index=names.pages)
        hits = es.search(index=names.pages, query={"term": {"url": url}}, size=5)["hits"]["hits"]
        assert len(hits) == 1, [h["_source"].get("url") for h in hits]
        page = hits[0]["_source"]
        # found, not just absent: every kind is among the page's entities, the text is masked
        labels = {e["label"] for e in page["entities"]}
        missing = [k for k in sorted({e["kind"] for e in entries}) if not LABELS.get(k, {k}) & labels]
        assert not missing, (missing, sorted(labels))
        assert CANARY in page["text"] and "•" in page["text"]
        assert leaks(json.dumps(page, ensure_ascii=False).encode(), entries) == []
        # by design (docs/listings.md) payment addresses are public kinds: the identifiers index
        # keeps them in clear (`display`) to pivot on; every personal kind there is masked
        idents = es.search(index=names.alias(IDENTIFIERS), query={"term": {"url": url}}, size=1000)["hits"]["hits"]
        assert idents, "the page's identifiers were indexed"
        public = {h["_source"]["display"] for h in idents if h["_source"]["kind"] in PUBLIC_KINDS}
        assert public == {_coin(e["value"]) for e in entries if e["kind"] == "CRYPTO"}, public
        personal = [h["_source"] for h in idents if h["_source"]["kind"] not in PUBLIC_KINDS]
        assert personal and leaks(json.dumps(personal, ensure_ascii=False).encode(), entries) == []
        # the snapshot: AES-GCM ciphertext at rest, the planted values inside once decrypted
        snap = es.get(index=names.snapshots, id=page["sha256"])["_source"]
        assert snap["codec"] == CODEC
        sealed = base64.b64decode(snap["data"])
        assert CANARY.encode() not in sealed and leaks(sealed, entries) == []
        raw = unseal(snap, page["sha256"], SNAPSHOT_KEY.encode())
        assert CANARY.encode() in raw and len(leaks(raw, entries)) >= len(entries) // 2
        with pytest.raises(SnapshotError):
            unseal(snap, page["sha256"], b"another key")
        es.close()
    finally:
        es_server.stop(data_dir)
    # the journal's sealed copy of the body: ciphertext, decrypts to the planted page
    with Journal(home / "journal") as journal:
        captures = [e.payload for e in journal.iterate(1) if e.kind == "capture" and e.payload.get("url") == url]
    assert len(captures) == 1 and captures[0].get("body"), captures
    body = BlobStore(home / "journal" / "blobs", SNAPSHOT_KEY.encode()).get(captures[0]["body"], captures[0]["sha256"])
    assert CANARY.encode() in body and leaks(body, entries)

    # every file at rest, byte by byte (the server is stopped: what it persisted is on disk)
    files = _files(home)
    assert any(p.is_relative_to(data_dir) for p in files) and any(p.is_relative_to(home / "journal") for p in files)
    found: dict[str, list[tuple[str, str, str]]] = {}
    canary_in = set()
    for path in files:
        data = path.read_bytes()
        # coin addresses: only as an identifier's `display` (the index's and the journaled record's)
        hit = leaks(data, [e for e in entries if e["kind"] != "CRYPTO"])
        hit += leaks(_DISPLAY.sub(b"", data), [e for e in entries if e["kind"] == "CRYPTO"])
        if hit:
            found[str(path.relative_to(home))] = hit[:5]
        if CANARY.encode() in data:
            canary_in.add(path.relative_to(home).parts[0])
    for name, data in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        hit = leaks(data, entries)
        if hit:
            found[name] = hit[:5]
    assert not found, found
    # not vacuous: masked text readable in clear where it is stored
    assert {"es", "journal"} <= canary_in, canary_in
    forms = sum(len(clear_forms(e)) for e in entries)
    print(f"\n[planted-pii] {len(entries)} values, {len({e['kind'] for e in entries})} kinds, "
          f"{len({e['layout'] for e in entries})} layouts, {forms} clear forms searched in {len(files)} files "
          f"({sum(p.stat().st_size for p in files)} bytes) + stdout/stderr; crawl {crawl_seconds:.1f} s; 0 found")


def test_a_tsv_dump_keeps_its_tabs_through_extraction() -> None:
    """A TSV dump in <pre> stays a TSV row (tabs collapsed to spaces made it prose, and a personal
    record's names and addresses went unmasked); other blanks still collapse to one space."""
    from crawler.extract import extract

    text = extract("<pre>Nama\tNIK\nBudi  Contoh\t\t3171011708450001</pre><p>a \t b   c</p>", "http://x.onion/").text
    assert text.splitlines() == ["Nama\tNIK", "Budi Contoh\t3171011708450001", "a\tb c"]
