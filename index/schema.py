"""Versioned templates (configs/index/*.vN.json), alias setup, and migration by alias swap.

A mapping change is a new file ``<kind>.v<N+1>.json``: ``setup`` installs its template,
``migrate`` reindexes every older index behind the alias into its version-N+1 twin and
swaps the alias atomically. A new kind of document is a new file (e.g. checks.v1.json). The
templates are found in configs/index unless the caller passes another directory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError

import configs
from index.names import Names

_SPEC_RE = re.compile(r"^([a-z_]+)\.v(\d+)\.json$")


def default_config_dir() -> Path:
    """The shipped (or $ONIONWATCH_CONFIGS) index templates, looked up when called."""
    return configs.path("index")


class MigrationError(RuntimeError):
    """A reindex reported failures; the alias was left pointing at the old index."""


@dataclass(frozen=True)
class Spec:
    """One kind's mapping at one version, as read from its JSON file."""

    kind: str
    version: int
    partition: str | None  # "month" or None
    composed_of: tuple[str, ...]
    template: dict[str, Any] = field(repr=False)


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_specs(config_dir: Path | None = None) -> dict[str, dict[int, Spec]]:
    """Every version of every kind found in the config dir: {kind: {version: Spec}}."""
    specs: dict[str, dict[int, Spec]] = {}
    for path in sorted((config_dir or default_config_dir()).glob("*.json")):
        m = _SPEC_RE.match(path.name)
        if not m:
            continue
        data = _read_json(path)
        spec = Spec(
            kind=m.group(1),
            version=int(m.group(2)),
            partition=data.get("partition"),
            composed_of=tuple(data.get("composed_of", [])),
            template=data["template"],
        )
        specs.setdefault(spec.kind, {})[spec.version] = spec
    return specs


def latest(specs: dict[str, dict[int, Spec]]) -> dict[str, Spec]:
    """The newest version of each kind: the one writers use."""
    return {kind: versions[max(versions)] for kind, versions in specs.items()}


def _put_templates(es: Elasticsearch, names: Names, specs: dict[str, dict[int, Spec]], config_dir: Path) -> None:
    components = {c for versions in specs.values() for s in versions.values() for c in s.composed_of}
    for comp in sorted(components):
        data = _read_json(config_dir / "components" / f"{comp}.json")
        es.cluster.put_component_template(name=names.component(comp), template=data["template"])
    for kind, versions in specs.items():
        for version, spec in versions.items():
            es.indices.put_index_template(
                name=f"{names.template(kind)}-v{version}",
                index_patterns=names.version_pattern(kind, version),
                composed_of=[names.component(c) for c in spec.composed_of],
                template=spec.template,
                priority=200,
                meta={"onionwatch_kind": kind, "version": version},
            )


def _create_index(es: Elasticsearch, index: str, aliases: dict[str, Any] | None = None) -> bool:
    """Create if missing; True when this call created it (races with other writers are fine)."""
    try:
        es.indices.create(index=index, aliases=aliases or None)
        return True
    except ApiError as exc:
        if exc.status_code == 400 and "already_exists" in str(exc.error):
            return False
        raise


def ensure_partition(es: Elasticsearch, names: Names, spec: Spec, partition: str) -> str:
    """The concrete index for one partition of a kind, created and joined to the alias."""
    index = names.index(spec.kind, spec.version, partition)
    _create_index(es, index, {names.alias(spec.kind): {}})
    return index


def alias_indices(es: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    """{index: alias properties} behind an alias; empty if the alias does not exist."""
    try:
        resp = es.indices.get_alias(name=alias)
    except NotFoundError:
        return {}
    return {index: body["aliases"].get(alias, {}) for index, body in resp.body.items()}


def setup(es: Elasticsearch, names: Names, config_dir: Path | None = None) -> dict[str, Spec]:
    """Install templates and make every alias exist. Idempotent; returns the latest specs.

    Partitioned kinds get the current month's partition so their read alias always
    resolves (searching an empty system returns nothing rather than an error).
    """
    config_dir = config_dir or default_config_dir()
    specs = load_specs(config_dir)
    _put_templates(es, names, specs, config_dir)
    current = latest(specs)
    for kind, spec in current.items():
        if spec.partition:
            # the partitions created before a field was added to this version's file get it
            # too: a writer may still write into them (a re-fetch goes to its first month)
            ensure_partition(es, names, spec, datetime.now(timezone.utc).strftime("%Y.%m"))
            add_new_fields(es, names, spec)
        elif not alias_indices(es, names.alias(kind)):
            _create_index(es, names.index(kind, spec.version), {names.alias(kind): {"is_write_index": True}})
        else:
            add_new_fields(es, names, spec)
    return current


def add_new_fields(es: Elasticsearch, names: Names, spec: Spec) -> list[str]:
    """Fields added to a version's mapping file reach the indices already at that version
    (Elasticsearch's put_mapping adds fields in place; changing an existing field still needs
    a new version and ``migrate``). Returns the indices updated."""
    wanted = spec.template.get("mappings", {}).get("properties", {})
    current = es.indices.get_mapping(index=names.alias(spec.kind)).body
    updated = []
    for index, body in current.items():
        parsed = names.parse(index)
        if parsed is None or parsed[1] != spec.version:
            continue
        have = body.get("mappings", {}).get("properties", {})
        missing = {k: v for k, v in wanted.items() if k not in have}
        if missing:
            es.indices.put_mapping(index=index, properties=missing)
            updated.append(index)
    return updated


def status(es: Elasticsearch, names: Names, config_dir: Path | None = None) -> list[dict[str, Any]]:
    """Per kind: alias, the indices behind it with version and doc count, and whether to migrate."""
    out = []
    for kind, spec in sorted(latest(load_specs(config_dir)).items()):
        alias = names.alias(kind)
        indices = []
        for index in sorted(alias_indices(es, alias)):
            parsed = names.parse(index)
            indices.append({
                "index": index,
                "version": parsed[1] if parsed else None,
                "docs": es.count(index=index)["count"],
            })
        out.append({
            "kind": kind,
            "alias": alias,
            "latest_version": spec.version,
            "indices": indices,
            "needs_migrate": any(i["version"] != spec.version for i in indices),
        })
    return out


def migrate(
    es: Elasticsearch, names: Names, config_dir: Path | None = None, *, delete_old: bool = False
) -> list[dict[str, Any]]:
    """Reindex every index behind an alias that is older than its kind's latest version, then
    swap the alias in one atomic update. Documents already in the new index win (op_type
    create), so writers that moved on to the new version are not overwritten by old copies.
    """
    config_dir = config_dir or default_config_dir()
    current = setup(es, names, config_dir)
    report = []
    for kind, spec in sorted(current.items()):
        alias = names.alias(kind)
        for old, props in sorted(alias_indices(es, alias).items()):
            parsed = names.parse(old)
            if parsed is None or parsed[1] >= spec.version:
                continue
            new = names.index(kind, spec.version, parsed[2])
            _create_index(es, new)
            resp = es.reindex(
                source={"index": old},
                dest={"index": new, "op_type": "create"},
                conflicts="proceed",
                refresh=True,
                wait_for_completion=True,
            )
            if resp.get("failures"):
                raise MigrationError(f"reindex {old} -> {new}: {resp['failures'][:3]}")
            add: dict[str, Any] = {"index": new, "alias": alias}
            if props.get("is_write_index"):
                add["is_write_index"] = True
            es.indices.update_aliases(actions=[{"remove": {"index": old, "alias": alias}}, {"add": add}])
            if delete_old:
                es.indices.delete(index=old)
            report.append({
                "kind": kind, "from": old, "to": new,
                "copied": resp.get("created", 0), "kept_newer": resp.get("version_conflicts", 0),
                "deleted_old": delete_old,
            })
    return report
