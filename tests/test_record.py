"""One page-record definition (crawler/items.py): the index template, docs/record.md, the
index writer and the failure reasons the crawler emits must all agree with it."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import fields
from pathlib import Path

from crawler.items import (
    ENTITY_FIELDS,
    FAILURE_REASONS,
    FIELDS,
    NESTED,
    STORED_FIELDS,
    Entity,
    PageRecord,
    shape,
)

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "record.md").read_text(encoding="utf-8")
TEMPLATE = json.loads((REPO / "configs" / "index" / "pages.v1.json").read_text(encoding="utf-8"))
PROPERTIES = TEMPLATE["template"]["mappings"]["properties"]


def _doc_table() -> list[list[str]]:
    section = DOC.split("## Fields", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_docs_table_lists_the_record_fields_in_order() -> None:
    rows = _doc_table()
    assert [r[0].strip("`") for r in rows] == list(FIELDS)
    meta = {f.name: f.metadata for f in fields(PageRecord)}
    for name, _type, by, stored, _meaning in ((r[0].strip("`"), *r[1:]) for r in rows):
        assert by == meta[name]["by"], f"{name}: docs say set by {by!r}, the dataclass {meta[name]['by']!r}"
        assert stored == ("yes" if meta[name].get("stored", True) else "no"), f"{name}: stored column"


def test_docs_nested_shapes_match_the_dataclasses() -> None:
    rows = {r[0].strip("`"): r for r in _doc_table()}
    for name, shape_cls in NESTED.items():
        shown = re.search(r"`\{([^}]*)\}`", rows[name][4])
        assert shown, f"docs/record.md shows no {{...}} shape for {name}"
        assert [p.strip() for p in shown.group(1).split(",")] == [f.name for f in fields(shape_cls)], name


def test_index_template_maps_exactly_the_stored_fields() -> None:
    from index.writer import INDEX_FIELDS

    assert set(PROPERTIES) - set(INDEX_FIELDS) == set(STORED_FIELDS)
    assert "raw" not in PROPERTIES, "raw bodies live in the snapshot store only"
    for doc_field in INDEX_FIELDS:
        assert f"`{doc_field}`" in DOC, f"docs/record.md does not mention the index's {doc_field}"
    for name, shape_cls in NESTED.items():
        mapped = PROPERTIES[name].get("properties")
        if mapped is not None:  # evidence is stored but not indexed (enabled: false)
            assert set(mapped) == {f.name for f in fields(shape_cls)}, name


def test_writer_takes_its_page_fields_from_the_template() -> None:
    from index.schema import latest, load_specs
    from index.writer import page_fields

    spec = latest(load_specs(REPO / "configs" / "index"))["pages"]
    assert set(page_fields(spec)) == set(STORED_FIELDS)


def test_the_gate_keeps_only_the_record_shape() -> None:
    enriched = {
        "url": "http://x.onion/", "onion": "x.onion", "fetched_at": "2026-01-01T00:00:00Z", "text": "a",
        "tagger_debug": {"anything": 1},
        "entities": [{"label": "EMAIL_ADDRESS", "start": 0, "end": 1, "score": 1.0, "masked": "*",
                      "hash": "ab", "value": "clear@example.com", "region": "TH"}],
        "offers": [{"category": "drugs", "commodity": "mdma", "price": 10.0, "extra": True}],
    }
    out = shape(enriched)
    assert list(out) == list(FIELDS)
    assert list(out["entities"][0]) == list(ENTITY_FIELDS) == [f.name for f in fields(Entity)]
    assert "clear@example.com" not in json.dumps({k: v for k, v in out.items() if k != "raw"})
    assert out["offers"][0]["quantity"] is None and "extra" not in out["offers"][0]
    assert out["categories"] == [] and out["lang"] == "und"


def _emitted_reasons() -> set[str]:
    """Every failure name written in the crawler's code (and the wall names in its rule data): SOCKS reasons, `reason = "..."`
    class attributes, PolicyRefused("...") refusals, failure_reason()'s returns and names
    put on records directly."""
    from crawler.tor import SOCKS_REASONS
    from crawler.walls import wall_names

    found = set(SOCKS_REASONS.values()) | set(wall_names())  # walls are named by the rules' data
    for path in (REPO / "crawler").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                for target in node.targets:
                    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                    if name in ("reason", "failure"):
                        found.add(node.value.value)
            elif (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "PolicyRefused" and node.args
                  and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
            elif isinstance(node, ast.IfExp) and isinstance(node.body, ast.Constant) and isinstance(node.orelse, ast.Constant):
                if "offsite" in (node.body.value, node.orelse.value):
                    found |= {node.body.value, node.orelse.value}
            elif isinstance(node, ast.FunctionDef) and node.name == "failure_reason":
                found |= {n.value.value for n in ast.walk(node)
                          if isinstance(n, ast.Return) and isinstance(n.value, ast.Constant)}
    return found


def test_every_failure_the_crawler_emits_is_registered() -> None:
    emitted = _emitted_reasons()
    assert {"offsite", "url_too_long", "ignored", "download_error", "decompression_bomb"} <= emitted, "scan broken"
    assert emitted <= set(FAILURE_REASONS), f"emitted but not in FAILURE_REASONS: {emitted - set(FAILURE_REASONS)}"
    unused = set(FAILURE_REASONS) - emitted
    assert not unused, f"registered but never emitted: {unused}"


def test_failure_reasons_in_docs_match_the_registry_with_meanings() -> None:
    section = DOC.split("## Failure reasons", 1)[1]
    rows = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (.+?) \|$", section, re.MULTILINE))
    assert set(rows) == set(FAILURE_REASONS)
    for name, meaning in FAILURE_REASONS.items():
        assert meaning.split("(")[0].strip()[:25] in rows[name], f"{name}: docs meaning differs from the registry"


def test_page_kind_and_model_version_are_enriched_kept_by_the_gate_and_mapped_as_keywords() -> None:
    """Issue 11: the tagger's page kind and its classifier's version travel to the index."""
    from enrich.pagekind import KINDS
    from enrich.records import RecordEnricher
    from enrich.tagger import Tagger

    for name in ("page_kind", "model_version"):
        assert PROPERTIES[name] == {"type": "keyword"}, name  # filterable, aggregatable
        assert name in STORED_FIELDS
    tagger = Tagger.load()
    assert tagger.model_version, "the shipped tagger has an offer classifier"
    records = [{"url": "http://x.onion/1", "onion": "x.onion", "fetched_at": "2026-11-30T10:00:00Z",
                "text": "ARCTIC WOLF HEROIN 0.5G AAA+"},
               {"url": "http://x.onion/2", "onion": "x.onion", "fetched_at": "2026-11-30T10:00:00Z",
                "failure": "timeout", "text": ""}]
    RecordEnricher(tagger, b"record-test-key")(records)
    tagged, failed = (shape(r) for r in records)
    assert tagged["page_kind"] == "listing" and tagged["page_kind"] in KINDS
    assert tagged["model_version"] == tagger.model_version
    assert tagged["categories"] == ["drugs"]
    assert failed["page_kind"] is None and failed["model_version"] is None  # nothing was tagged
