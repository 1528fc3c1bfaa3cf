"""MISP event JSON (pymisp objects, built offline) for partners who run MISP.

Per onion service a ``tor-hiddenservice`` object; crypto addresses as ``coin-address``; PGP
fingerprints as ``pgp-meta``; every captured page as a ``url`` object; personal identifiers as
keyed hashes (``text`` attributes, not for IDS) unless included explicitly; listings as an event
report. The TLP tag is set on the event.
"""

from __future__ import annotations

from pymisp import MISPEvent, MISPObject

from evidence.bundle import Capture
from evidence.identifiers import Seen

# Public identifiers that become a MISP object with an address and first/last seen.
_SIGHTED_TEMPLATE = {"onion": "tor-hiddenservice", "crypto": "coin-address"}


def build(captures: list[Capture], identifiers: list[Seen], *, info: str, tlp: str = "amber",
          include_pii: bool = False) -> MISPEvent:
    if not captures:
        raise ValueError("nothing to export: the query matched no stored page")
    event = MISPEvent()
    event.info = info[:250] or "onionwatch export"
    event.distribution = 0  # this organisation only, until a person shares it on
    event.threat_level_id = 4
    event.analysis = 2
    event.add_tag(f"tlp:{tlp.lower()}")
    event.add_tag("onionwatch")
    times = sorted(c.page.get("fetched_at") or "" for c in captures if c.page.get("fetched_at"))
    if times:
        event.set_date(times[0][:10])
    for s in identifiers:
        if s.kind in _SIGHTED_TEMPLATE and s.value:
            obj = MISPObject(_SIGHTED_TEMPLATE[s.kind], standalone=False)
            obj.add_attribute("address", value=s.value)
            obj.add_attribute("first-seen", value=s.first)
            obj.add_attribute("last-seen", value=s.last)
            event.add_object(obj)
        elif s.kind == "pgp" and s.value:
            obj = MISPObject("pgp-meta", standalone=False)
            obj.add_attribute("key-id", value=s.value, comment="full OpenPGP fingerprint (40 hex digits)")
            event.add_object(obj)
        elif s.kind in ("personal", "crypto"):
            clear = s.value if (include_pii or s.kind == "crypto") else None
            if clear:
                event.add_attribute("text", clear, comment=f"{s.label} (included on the operator's instruction)",
                                    to_ids=False)
            elif s.hash:
                event.add_attribute("text", s.hash, comment=f"HMAC-SHA256 (keyed) of a {s.label}; ask the producer to match",
                                    to_ids=False)
    lines = []
    for c in captures:
        p = c.page
        obj = MISPObject("url", standalone=False)
        obj.add_attribute("url", value=p.get("url"))
        obj.add_attribute("first-seen", value=p.get("fetched_at"))
        event.add_object(obj)
        lines.append(f"## {p.get('title') or p.get('url')}\n\n- URL: `{p.get('url')}`\n- fetched (UTC): {p.get('fetched_at')}"
                     f"\n- SHA-256: `{p.get('sha256')}`\n- tags: {', '.join(p.get('categories') or []) or 'none'}")
        for o in (p.get("offers") or [])[:50]:
            lines.append("- offer: " + ", ".join(f"{k}={o.get(k)}" for k in ("category", "commodity", "price", "currency",
                                                                               "quantity", "unit") if o.get(k) is not None))
    event.add_event_report("Captured pages and listings", "\n".join(lines))
    return event
