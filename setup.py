"""Build: enrich's hot pure-Python modules compiled with mypyc (everything else is in pyproject.toml).

The Tagger takes ~13% less CPU compiled (~15% more throughput), with byte-identical output (README, speed).
What happens when:
- ONIONWATCH_PURE_PYTHON=1 at build time: nothing is compiled (and the extensions of an earlier
  build are removed from the source tree, so an editable install really is plain Python).
- mypyc rejects the code (a type error in these modules): the build FAILS, loudly. The error is a
  bug in enrich, and a compiled module would raise TypeError on it at run time; fix it, or build
  with ONIONWATCH_PURE_PYTHON=1. (Compiled modules also check types at run time: a wrongly typed
  value in the tagger's YAML, such as Norway's unquoted NO read as false, raises where plain Python
  went on silently; that is how that bug was found.) The result depends only on our sources and
  the pinned mypy (the build environment has none of our dependencies: their imports are Any),
  not on the machine.
- The C compiler is missing or fails (no gcc, no Python.h): a warning (pip shows it), then the plain
  .py modules: a machine without a toolchain still gets a working install; enrich.compiled
  .describe() (printed by bench/tag_speed.py) says which it runs.
A successful build records each compiled source's sha256 (enrich/_mypyc_build.json): enrich
does not use a stale build: it imports the sources instead and warns (enrich/compiled.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, ExecError, LinkError, PlatformError

ROOT = Path(__file__).resolve().parent
# enrich/compiled.py alone (the package's __init__ needs spaCy, absent from the build environment)
_spec = importlib.util.spec_from_file_location("enrich_compiled", ROOT / "enrich" / "compiled.py")
enrich_compiled = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(enrich_compiled)

# Chosen by measurement (README, speed): the modules of the Tagger's character pass and decision,
# and validators (its phone checks read phonenumbers' metadata in Python: paired bench 10.0-10.1x
# -> 10.2x Presidio). Not checksums (stdnum and pycryptodome do the work there), not the spaCy
# modules (classifier, tagger, pipeline: spaCy's decorators and objects).
MYPYC_MODULES = ["spans", "lexicon", "lang", "market", "pagekind", "pii", "scan", "offers", "validators"]
GROUP = "enrich"  # the shared library: enrich__mypyc.<abi>.so beside the enrich package
BUILD_TRIGGERS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}
TOOLCHAIN_ERRORS = (CCompilerError, CompileError, ExecError, LinkError, PlatformError)
RECORD: dict[str, object] = {}  # the build: mypy version, each source's sha256, the shared library


def _say(message: str) -> None:
    """A warning: pip shows a build backend's warnings even with -q (and hides its prints)."""
    warnings.warn(f"onionwatch: {message}", stacklevel=2)


def _remove_extensions() -> None:
    """Extensions and the build record of an earlier build: Python would import them first."""
    for path in enrich_compiled.built_extensions(ROOT / "enrich").values():
        path.unlink()
    for path in [*ROOT.glob(f"{GROUP}__mypyc.*"), ROOT / "enrich" / enrich_compiled.BUILD_RECORD.name]:
        path.unlink(missing_ok=True)


def _ext_modules() -> list:
    if not BUILD_TRIGGERS & set(sys.argv[1:]):
        return []  # metadata steps (egg_info, dist_info) need no type check
    if enrich_compiled.pure_requested():
        _say(f"{enrich_compiled.PURE_ENV} is set: enrich stays plain Python")
        _remove_extensions()
        return []
    try:
        from mypy.version import __version__ as mypy_version
        from mypyc.build import mypycify
    except ImportError:
        _say("mypyc is not installed (built without build isolation?): enrich stays plain Python")
        _remove_extensions()
        return []
    os.chdir(ROOT)  # mypycify takes paths relative to the project
    RECORD["mypy"] = mypy_version
    paths = [f"enrich/{name}.py" for name in MYPYC_MODULES]
    # hashed before mypyc reads them: a source edited during the build then reads as stale
    RECORD["sources"] = {f"enrich.{name}": enrich_compiled.source_hash(ROOT / path) for name, path in zip(MYPYC_MODULES, paths)}
    try:
        return mypycify(["--ignore-missing-imports", "--follow-imports=silent", *paths], opt_level="3",
                        group_name=GROUP)
    except SystemExit as exc:  # mypyc prints the type errors, then exits
        raise SystemExit(f"onionwatch: mypyc rejected enrich (errors above): fix them, or build plain Python with "
                         f"{enrich_compiled.PURE_ENV}=1") from exc


class BuildExt(build_ext):
    """Compiles; on a toolchain failure, says so and leaves plain Python; records the sources."""

    def run(self) -> None:
        if not self.extensions:
            return
        in_place = self.inplace or getattr(self, "editable_mode", False)
        if in_place:
            _remove_extensions()  # of an earlier build: a module dropped from the list must not stay
        try:
            super().run()
        except TOOLCHAIN_ERRORS as exc:
            _say(f"compiling enrich with mypyc failed ({exc}): enrich stays plain Python (slower tagging, "
                 f"same output)")
            _remove_extensions()
            for output in super().get_outputs():  # a wheel build's extensions compiled before the failure
                Path(output).unlink(missing_ok=True)
            self.extensions = []
            return
        RECORD["library"] = Path(self.get_ext_filename(f"{GROUP}__mypyc")).name  # beside the package
        target = ROOT / "enrich" if in_place else Path(self.build_lib) / "enrich"
        (target / enrich_compiled.BUILD_RECORD.name).write_text(json.dumps(RECORD, indent=1) + "\n")

    def get_outputs(self) -> list[str]:
        return super().get_outputs() if self.extensions else []


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": BuildExt})
