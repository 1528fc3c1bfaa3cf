"""Run Python code in a subprocess on this tree, its enrich plain Python (ONIONWATCH_PURE_PYTHON=1)
or as installed (compiled when the mypyc build is current: enrich/compiled.py).

A test that patches a global of a compiled enrich module does not reach the module's compiled
callers (mypyc calls the functions of one build natively), and a compiled class takes no attribute
of another type nor a method on an instance: such a test runs on the sources here."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, *args: str, pure: bool = True, path: Path = ROOT) -> str:
    """stdout of `python -c code args` with `path` first on sys.path; fails on a non-zero exit."""
    env = {**os.environ, "PYTHONPATH": str(path)}
    env.pop("ONIONWATCH_PURE_PYTHON", None)
    if pure:
        env["ONIONWATCH_PURE_PYTHON"] = "1"
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    return done.stdout


def source_module(name: str) -> types.ModuleType:
    """enrich/<name>.py loaded afresh from its source, beside the imported (maybe compiled)
    enrich.<name>: plain Python classes and globals, for a test to patch (modules whose imports
    of ours are fine to share)."""
    spec = importlib.util.spec_from_file_location(f"enrich_source_{name}", ROOT / "enrich" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module
