"""enrich's mypyc build (setup.py, enrich/compiled.py): compiled code only while it is current.

An extension module sits beside its .py and Python imports it first: an edited source whose build
is older must not keep running the old code, and plain Python must give the same output."""

from __future__ import annotations

import importlib.machinery
import json
import shutil
from pathlib import Path

import pytest

from enrich import compiled
from tests.pure_python import ROOT, run_python

PROBE = ("import json, sys, warnings; warnings.simplefilter('always'); import enrich; from enrich import compiled; "
         "print(json.dumps([compiled.describe(), compiled.modules(), enrich.pagekind.__file__]))")


def _fake_build(package: Path, names: list[str]) -> None:
    """A package directory as the build leaves it: sources, an extension each, the record."""
    package.mkdir()
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in names:
        (package / f"{name}.py").write_text(f"X = {name!r}\n")
        (package / f"{name}{suffix}").write_bytes(b"")
    sources = {f"{package.name}.{n}": compiled.source_hash(package / f"{n}.py") for n in names}
    (package.parent / f"enrich__mypyc{suffix}").write_bytes(b"")
    (package / compiled.BUILD_RECORD.name).write_text(json.dumps({"sources": sources, "library": f"enrich__mypyc{suffix}"}))


def test_a_current_build_is_used_an_edited_source_is_not(tmp_path: Path) -> None:
    package = tmp_path / "enrich"
    _fake_build(package, ["spans", "pagekind"])
    assert compiled.stale_sources(package) == []
    (package / "pagekind.py").write_text("X = 'edited'\n")
    assert compiled.stale_sources(package) == ["pagekind.py changed since the build"]


def test_extensions_without_a_record_or_with_a_part_missing_are_stale(tmp_path: Path) -> None:
    package = tmp_path / "enrich"
    _fake_build(package, ["spans", "pagekind"])
    next(package.glob("spans.*.so")).unlink()
    assert compiled.stale_sources(package) == ["enrich.spans (extension missing)"]
    library = next(tmp_path.glob("enrich__mypyc.*"))
    library.unlink()  # the package copied without the build's shared library (a Docker COPY enrich/)
    assert compiled.stale_sources(package) == [f"{library.name} missing", "enrich.spans (extension missing)"]
    (package / compiled.BUILD_RECORD.name).unlink()
    assert compiled.stale_sources(package) == ["enrich.pagekind (no build record)"]


def test_an_unreadable_build_record_is_stale_not_a_crash(tmp_path: Path) -> None:
    """A truncated or hand-edited record must not stop `import enrich`: the build is not used."""
    package = tmp_path / "enrich"
    _fake_build(package, ["spans"])
    record = package / compiled.BUILD_RECORD.name
    for broken in (record.read_text()[:20], "[]", "{}"):
        record.write_text(broken)
        assert compiled.stale_sources(package) == ["enrich.spans (unreadable build record)"]


def test_pure_python_on_request() -> None:
    assert compiled.pure_requested({"ONIONWATCH_PURE_PYTHON": "1"})
    assert not compiled.pure_requested({"ONIONWATCH_PURE_PYTHON": "0"}) and not compiled.pure_requested({})
    describe, modules, pagekind = _probe(ROOT, pure=True)
    assert modules == [] and pagekind.endswith("pagekind.py")
    why = "ONIONWATCH_PURE_PYTHON is set" if compiled.built_extensions() else "no compiled build"
    assert describe == f"enrich plain Python ({why})"


compiled_build = pytest.mark.skipif(not compiled.built_extensions(), reason="enrich is not compiled in this install (setup.py said why)")


@compiled_build
@pytest.mark.skipif(compiled.pure_requested(), reason="ONIONWATCH_PURE_PYTHON is set")
def test_this_install_runs_its_compiled_build() -> None:
    assert compiled.stale_sources() == [], "rebuild: " + compiled.REBUILD
    assert set(compiled.modules()) == set(compiled.built_extensions())
    assert compiled.describe().startswith("enrich compiled (mypyc): ")


@compiled_build
def test_an_edited_module_runs_from_source_with_a_warning(tmp_path: Path) -> None:
    """A copy of the compiled package: as built it runs compiled; after an edit to one module,
    ALL modules come from source (compiled callers would call the old code natively)."""
    shutil.copytree(ROOT / "enrich", tmp_path / "enrich", ignore=shutil.ignore_patterns("__pycache__", "models"))
    (tmp_path / "enrich" / "models").symlink_to(ROOT / "enrich" / "models")
    for lib in ROOT.glob("enrich__mypyc.*"):
        shutil.copy(lib, tmp_path)
    describe, modules, pagekind = _probe(tmp_path)
    assert pagekind.startswith(str(tmp_path)) and not pagekind.endswith(".py") and "enrich.pagekind" in modules, describe
    with (tmp_path / "enrich" / "pagekind.py").open("a") as source:
        source.write("\n# edited after the build\n")
    describe, modules, pagekind = _probe(tmp_path)
    assert modules == [] and pagekind == str(tmp_path / "enrich" / "pagekind.py")
    assert describe == "enrich plain Python (stale mypyc build: pagekind.py changed since the build)"


@compiled_build
def test_compiled_and_plain_python_tag_alike() -> None:
    """The labelled pages and hard negatives tagged as installed (compiled) and plain, each in a subprocess."""
    code = ("import json, sys, yaml; from enrich import Tagger; root = sys.argv[1]; "
            "texts = [r['text'] for n in ('labelled.yaml', 'hard_negatives.yaml') for r in yaml.safe_load(open(f'{root}/{n}', encoding='utf-8'))]; "
            "print(json.dumps(Tagger.load().tag_many(texts), sort_keys=True))")
    data = str(ROOT / "tests" / "data" / "tagger")
    outputs = [run_python(code, data, pure=pure) for pure in (False, True)]
    assert outputs[0] == outputs[1] and len(json.loads(outputs[0])) > 100


def _probe(path: Path, pure: bool = False) -> list:
    return json.loads(run_python(PROBE, pure=pure, path=path).splitlines()[-1])
