"""The docs are kept true by tests: what the code reads, emits and offers is what the README and
docs/record.md say, and the README's layout section matches the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
RECORD_DOC = (REPO / "docs" / "record.md").read_text(encoding="utf-8")

_ENV_READ = re.compile(
    r"""(?:environ(?:\.get)?\s*(?:\(|\[)\s*|getenv\(\s*|env\(\s*)["'](ONIONWATCH_[A-Z0-9_]+)["']"""
)
_ENV_PATTERN_READ = re.compile(r"""["'](ONIONWATCH_[A-Z0-9_]*)\{""")  # f"ONIONWATCH_SITE_{name}_USER"


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / line for line in out.stdout.splitlines() if line]


def _package_sources() -> list[Path]:
    return [p for p in _tracked("*.py") if p.parts[len(REPO.parts)] not in {"tests", "bench", "scripts"}]


def _section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert m, f"README has no '## {title}' section"
    return m.group(1)


def _documented_env() -> set[str]:
    """Variables named in the README's configuration table (`_USER` shorthand expands)."""
    names: set[str] = set()
    for line in _section("Configuration").splitlines():
        if not line.startswith("|"):
            continue
        cell = line.split("|")[1]
        full = re.findall(r"`(ONIONWATCH_[A-Z0-9_<>]+)`", cell)
        for short in re.findall(r"`(_[A-Z0-9_]+)`", cell):
            if full:
                stem = full[0].rsplit("_", 1)[0]
                names.add(stem + short)
        names.update(full)
    return names


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    read: dict[str, str] = {}
    for path in _package_sources():
        text = path.read_text(encoding="utf-8")
        names = _ENV_READ.findall(text)
        if path.relative_to(REPO).as_posix() == "onionwatch/settings.py":  # the one place reading the environment
            names += re.findall(r"""["'](ONIONWATCH_[A-Z0-9_]+)["']""", text)
        for name in names:
            read.setdefault(name, str(path.relative_to(REPO)))
    documented = _documented_env()
    missing = {name: where for name, where in read.items() if name not in documented}
    assert not missing, f"environment variables read but not in the README's Configuration table: {missing}"
    assert read, "the scan found no environment reads at all: the pattern is broken"


def _commands() -> list[tuple[str, click.Command]]:
    from onionwatch.cli import main

    out: list[tuple[str, click.Command]] = []

    def walk(prefix: str, cmd: click.Command) -> None:
        out.append((prefix, cmd))
        if isinstance(cmd, click.Group):  # list/get, not .commands: the top group loads its commands lazily
            ctx = click.Context(cmd)
            for name in sorted(cmd.list_commands(ctx)):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, f"`onionwatch {prefix} {name}` is listed but cannot be loaded"
                walk(f"{prefix} {name}".strip(), sub)

    walk("", main)
    return out


def test_every_command_has_help_and_is_in_the_readme() -> None:
    commands = _section("Commands")
    rows = [line for line in commands.splitlines() if line.startswith("| `")]
    runner = CliRunner()
    from onionwatch.cli import main

    undocumented = []
    for path, cmd in _commands():
        result = runner.invoke(main, [*path.split(), "--help"])
        assert result.exit_code == 0, f"`onionwatch {path} --help` failed: {result.output}"
        if not path:
            continue
        top, *rest = path.split()
        row = next((r for r in rows if re.match(rf"\| `{re.escape(top)}\b", r)), None)
        if row is None or (rest and not re.search(rf"\b{re.escape(rest[-1])}\b", row)):
            undocumented.append(path)
    assert not undocumented, f"commands missing from the README's Commands table: {undocumented}"


def test_readme_layout_matches_the_tree() -> None:
    layout = _section("Layout")
    listed = set(re.findall(r"^\| `([^`/]+)/?` \|", layout, re.M))
    top = {p.parts[len(REPO.parts)] for p in _tracked() if len(p.parts) > len(REPO.parts) + 1}
    top |= {p.name for p in _tracked() if len(p.parts) == len(REPO.parts) + 1 and p.suffix in {".yml", ".toml", ".md"}}
    top -= {".ci", ".gitignore"}
    top = {t for t in top if not t.startswith(".")}
    assert listed == top, f"README layout vs tree — only in README: {listed - top}, only in tree: {top - listed}"


def test_failure_reasons_match_the_record_doc() -> None:
    from crawler.items import FAILURE_REASONS

    doc = set(re.findall(r"`([a-z0-9_]+)`", RECORD_DOC.split("Failure reasons", 1)[1]))
    assert set(FAILURE_REASONS) == doc, (
        f"only in code: {set(FAILURE_REASONS) - doc}; only in docs/record.md: {doc - set(FAILURE_REASONS)}"
    )
