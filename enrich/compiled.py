"""Whether enrich's hot modules run compiled (mypyc, built by setup.py) or as plain Python.

The build (setup.py) compiles a few pure-Python modules into extension modules that sit beside
their .py files and records the sha256 of each compiled source in BUILD_RECORD. Python imports an
extension module before the .py of the same name, so in an editable install an edited .py whose
build is older would silently keep running the old code. `select()`, run by enrich/__init__.py
before any submodule is imported, prevents that: unless every compiled module's source still
hashes as recorded, ALL of them are imported from their .py files (mypyc compiles the calls
between modules of one build into direct native calls, so one module alone cannot fall back) and a
RuntimeWarning names the changed files and the rebuild command. ONIONWATCH_PURE_PYTHON=1 (at build
time: build nothing; at import time: ignore a build) gives plain Python on purpose. Costs ~1 ms.

Imports nothing of ours (enrich/__init__.py runs it first).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUILD_RECORD = PACKAGE_DIR / "_mypyc_build.json"  # written by setup.py, never committed
PURE_ENV = "ONIONWATCH_PURE_PYTHON"
REBUILD = 'pip install -e ".[test,bench]"  (or ONIONWATCH_PURE_PYTHON=1 to run plain Python)'

_UNDECIDED = "not selected yet"
_state: dict[str, object] = {"modules": (), "why": _UNDECIDED}


def pure_requested(environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """ONIONWATCH_PURE_PYTHON set to anything but "" or "0"."""
    return (os.environ if environ is None else environ).get(PURE_ENV, "") not in ("", "0")


def source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def built_extensions(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Module name → extension file of every compiled module present in the package directory."""
    found: dict[str, Path] = {}
    for path in package_dir.iterdir():
        suffix = next((s for s in importlib.machinery.EXTENSION_SUFFIXES if path.name.endswith(s)), None)
        if suffix is not None:
            found[f"{package_dir.name}.{path.name[: -len(suffix)]}"] = path
    return found


def stale_sources(package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Why the extension modules in package_dir may not be used: sources changed since the build,
    an extension the record does not list, a recorded one or the build's shared library missing.
    [] = the build is current."""
    extensions = built_extensions(package_dir)
    record_path = package_dir / BUILD_RECORD.name
    if not record_path.exists():
        return [f"{name} (no build record)" for name in sorted(extensions)]
    try:
        record = json.loads(record_path.read_text())
        recorded: dict[str, str] = record["sources"]
    except (ValueError, KeyError, TypeError):  # truncated or hand-edited: not a build to trust
        return [f"{name} (unreadable build record)" for name in sorted(extensions)] or ["unreadable build record"]
    problems = [f"{name} (not in the build record)" for name in sorted(extensions.keys() - recorded.keys())]
    library = record.get("library", "the shared library")
    if not (package_dir.parent / library).is_file():  # e.g. the package copied without it
        problems.append(f"{library} missing")
    for name, digest in sorted(recorded.items()):
        source = package_dir / f"{name.rpartition('.')[2]}.py"
        if name not in extensions:
            problems.append(f"{name} (extension missing)")
        elif not source.exists() or source_hash(source) != digest:
            problems.append(f"{source.name} changed since the build")
    return problems


class _SourceFirst:
    """Meta-path finder: the named modules come from their .py files, never an extension."""

    def __init__(self, names: set[str], package_dir: Path) -> None:
        self.names, self.package_dir = names, package_dir

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, self.package_dir / f"{fullname.rpartition('.')[2]}.py")


def select() -> None:
    """Decide, once per process and before enrich's submodules are imported, compiled or pure."""
    if _state["why"] != _UNDECIDED:
        return
    extensions = built_extensions()
    if not extensions:
        _state.update(modules=(), why="no compiled build")
        return
    if pure_requested():
        why = f"{PURE_ENV} is set"
    else:
        problems = stale_sources()
        if not problems:
            _state.update(modules=tuple(sorted(extensions)), why="mypyc build current")
            return
        why = "stale mypyc build: " + "; ".join(problems)
        warnings.warn(f"enrich runs plain Python, the compiled build is stale ({'; '.join(problems)}); rebuild: {REBUILD}",
                      RuntimeWarning, stacklevel=2)
    sys.meta_path.insert(0, _SourceFirst(set(extensions), PACKAGE_DIR))
    _state.update(modules=(), why=why)


def modules() -> tuple[str, ...]:
    """The enrich modules this process runs compiled (empty: all plain Python)."""
    return tuple(m for m in _state["modules"] if m in sys.modules and _is_extension(sys.modules[m]))  # type: ignore[attr-defined]


def _is_extension(module: object) -> bool:
    return isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader)


def describe() -> str:
    """One line for benchmarks: what runs, compiled or not."""
    names = modules()
    if names:
        return f"enrich compiled (mypyc): {', '.join(n.rpartition('.')[2] for n in names)}"
    return f"enrich plain Python ({_state['why']})"
