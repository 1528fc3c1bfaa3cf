"""Copying an installation to another cluster (``onionwatch es migrate --to URL``).

Everything our indices need travels: component templates, index templates, every index
with its mappings, analysis settings and aliases (``is_write_index`` included), and every
document with its ``_id``. Documents are read with the scroll API and written with bulk
(elasticsearch.helpers.scan into helpers.bulk on the target client: no reindex-from-remote
whitelist is needed on the target). The copy is verified by counting each index on both sides.

Idempotent: documents keep their ids, so a second run after a failure overwrites rather
than duplicates; an index that already exists on the target is written into, and a target
holding more documents than the source fails the verification instead of passing silently.
Stop writers (crawls, checks) first: documents written meanwhile may be missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import BulkIndexError, bulk, scan

# Settings that describe one index on one cluster rather than its data layout.
_LOCAL_SETTINGS = {"uuid", "creation_date", "provided_name", "version", "routing", "resize", "history_uuid",
                   "number_of_replicas", "blocks", "frozen", "verified_before_close", "store", "lifecycle"}


class TransferError(RuntimeError):
    """The target does not hold what the source holds."""


@dataclass
class TransferReport:
    component_templates: list[str] = field(default_factory=list)
    index_templates: list[str] = field(default_factory=list)
    indices: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> {source, target}
    aliases: dict[str, list[str]] = field(default_factory=dict)  # alias -> indices
    write_indices: dict[str, str] = field(default_factory=dict)  # alias -> its write index

    @property
    def ok(self) -> bool:
        return all(c["source"] == c["target"] for c in self.indices.values())


def _ours(name: str, prefix: str | None) -> bool:
    """Not a system/hidden object, and under the prefix if one is given."""
    return not name.startswith(".") and (prefix is None or name.startswith(f"{prefix}-"))


def _index_settings(settings: dict[str, Any]) -> dict[str, Any]:
    index = dict(settings.get("index") or {})
    return {k: v for k, v in index.items() if k not in _LOCAL_SETTINGS}


def copy_all(source: Elasticsearch, target: Elasticsearch, *, prefix: str | None = None,
             chunk_size: int = 500, progress: Callable[[str], None] | None = None) -> TransferReport:
    """Copy templates, indices (mappings, settings, aliases) and documents from ``source`` to
    ``target``; ``prefix`` limits the copy to one installation's names. Raises TransferError
    when a count differs after the copy."""
    say = progress or (lambda _msg: None)
    report = TransferReport()

    comps = source.options(ignore_status=404).cluster.get_component_template().body.get("component_templates", [])
    for c in comps:
        if not _ours(c["name"], prefix) or (c["component_template"].get("_meta") or {}).get("managed"):
            continue
        body = c["component_template"]
        kwargs: dict[str, Any] = {"template": body["template"]}
        if body.get("_meta"):
            kwargs["meta"] = body["_meta"]
        if body.get("version") is not None:
            kwargs["version"] = body["version"]
        target.cluster.put_component_template(name=c["name"], **kwargs)
        report.component_templates.append(c["name"])

    templates = source.options(ignore_status=404).indices.get_index_template().body.get("index_templates", [])
    for t in templates:
        body = t["index_template"]
        if not _ours(t["name"], prefix) or (body.get("_meta") or {}).get("managed"):
            continue
        kwargs = {k: body[k] for k in ("index_patterns", "composed_of", "template", "priority", "version",
                                       "data_stream", "allow_auto_create") if body.get(k) is not None}
        if body.get("_meta"):
            kwargs["meta"] = body["_meta"]
        target.indices.put_index_template(name=t["name"], **kwargs)
        report.index_templates.append(t["name"])

    pattern = f"{prefix}-*" if prefix else "*"
    indices = {name: spec for name, spec in source.indices.get(index=pattern, expand_wildcards="open").body.items()
               if _ours(name, prefix)}
    for name, spec in sorted(indices.items()):
        aliases = spec.get("aliases") or {}
        for alias, props in aliases.items():
            report.aliases.setdefault(alias, []).append(name)
            if props.get("is_write_index"):
                report.write_indices[alias] = name
        if not target.indices.exists(index=name):
            target.indices.create(index=name, mappings=spec.get("mappings") or None,
                                  settings=_index_settings(spec.get("settings") or {}) or None,
                                  aliases=aliases or None)
        else:  # a re-run: make the aliases match
            actions = [{"add": {"index": name, "alias": a, **props}} for a, props in aliases.items()]
            if actions:
                target.indices.update_aliases(actions=actions)
        source.indices.refresh(index=name)
        expected = int(source.count(index=name)["count"])
        say(f"{name}: copying {expected} documents")
        if expected:
            hits = scan(source, index=name, query={"query": {"match_all": {}}}, size=chunk_size, scroll="10m")
            actions = ({"_op_type": "index", "_index": name, "_id": h["_id"], "_source": h["_source"],
                        **({"routing": h["_routing"]} if h.get("_routing") else {})} for h in hits)
            try:
                bulk(target, actions, chunk_size=chunk_size, max_chunk_bytes=16 * 1024 * 1024, max_retries=5,
                     initial_backoff=1, stats_only=True)
            except BulkIndexError as exc:
                first = exc.errors[0] if exc.errors else {}
                raise TransferError(f"{name}: the target refused {len(exc.errors)} document(s), e.g. "
                                    f"{str(first)[:300]}") from exc
        report.indices[name] = {"source": expected, "target": -1}

    for name in sorted(report.indices):
        target.indices.refresh(index=name)
        try:
            report.indices[name]["target"] = int(target.count(index=name)["count"])
        except NotFoundError:
            report.indices[name]["target"] = 0
    for alias, write_index in report.write_indices.items():
        got = target.indices.get_alias(name=alias).body
        if not (got.get(write_index, {}).get("aliases", {}).get(alias, {}).get("is_write_index")):
            raise TransferError(f"alias {alias} on the target does not mark {write_index} as its write index")
    bad = {n: c for n, c in report.indices.items() if c["source"] != c["target"]}
    if bad:
        raise TransferError("document counts differ after the copy: "
                            + ", ".join(f"{n} source {c['source']} target {c['target']}" for n, c in sorted(bad.items())))
    return report
