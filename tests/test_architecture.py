"""The layering is a contract, checked on every run: import-linter's contracts live in
pyproject.toml ([tool.importlinter]); private framework internals are touched in one adapter
module only, which has its own test (tests/test_scrapy_adapter.py)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADAPTER = REPO / "crawler" / "_scrapy_compat.py"
FRAMEWORKS = ("scrapy", "spacy", "httpx", "httpcore", "httpcore2", "twisted", "thinc")
OURS = ("onionwatch", "alerts", "lab", "crawler", "enrich", "index", "configs", "procs", "journal", "evidence", "clusters")


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is not installed (it is in the test extras)"
    result = subprocess.run([exe, "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and "KEPT" in result.stdout


def _sources() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    paths = [REPO / p for p in out.stdout.split()]
    return [p for p in paths if p.parts[len(REPO.parts)] in OURS and p.exists()]


def _private_framework_uses(tree: ast.AST, framework_names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] in FRAMEWORKS and (any(p.startswith("_") for p in parts)
                                           or any(a.name.startswith("_") for a in node.names)):
                found.append(f"line {node.lineno}: from {node.module} import …")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in framework_names:
                found.append(f"line {node.lineno}: {base.id}….{node.attr}")
            elif node.attr.isupper() or node.attr.startswith("_SLOT"):
                found.append(f"line {node.lineno}: ….{node.attr}")
    return found


def test_framework_internals_only_in_the_adapter() -> None:
    offenders = {}
    for path in _sources():
        if path == ADAPTER:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.asname or a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names if a.name.split(".")[0] in FRAMEWORKS}
        hits = _private_framework_uses(tree, names)
        if hits:
            offenders[str(path.relative_to(REPO))] = hits
    assert not offenders, f"private framework internals outside {ADAPTER.name}: {offenders}"
