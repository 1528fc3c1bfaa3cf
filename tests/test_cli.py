"""The top-level command loads each command's module only when it is used; its table of which
module defines which command must stay true, or a command would vanish or lose subcommands."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import click

from onionwatch import cli, commands

REPO = Path(__file__).resolve().parent.parent


def _defined_commands() -> dict[str, set[str]]:
    """Every command module imported: command name -> the modules whose COMMANDS hold it."""
    out: dict[str, set[str]] = {}
    for info in pkgutil.iter_modules(commands.__path__):
        for cmd in getattr(importlib.import_module(f"onionwatch.commands.{info.name}"), "COMMANDS", []):
            out.setdefault(cmd.name, set()).add(info.name)
    return out


def _tree(cmd: click.Command) -> object:
    if not isinstance(cmd, click.Group):
        return cmd.name
    ctx = click.Context(cmd)
    return {name: _tree(cmd.get_command(ctx, name)) for name in cmd.list_commands(ctx)}


def test_the_table_names_every_command_and_each_loads_whole_on_its_own() -> None:
    defined = _defined_commands()  # every module imported: the full tree
    assert set(cli.COMMAND_MODULES) == set(defined), "COMMAND_MODULES vs the modules' COMMANDS"
    for name, modules in defined.items():
        assert modules <= set(cli.COMMAND_MODULES[name]), (name, modules)
    ctx = click.Context(cli.main)
    whole = {name: _tree(cli.main.get_command(ctx, name)) for name in cli.COMMAND_MODULES}
    saved = {k: v for k, v in sys.modules.items() if k.startswith("onionwatch.commands.")}
    try:
        for name in cli.COMMAND_MODULES:  # as a fresh process would: only this command's modules
            for key in [k for k in sys.modules if k.startswith("onionwatch.commands.")]:
                del sys.modules[key]
            group = cli.LazyGroup()
            cmd = group.get_command(click.Context(group), name)
            assert cmd is not None and _tree(cmd) == whole[name], f"`onionwatch {name}` alone is not whole"
    finally:
        for key in [k for k in sys.modules if k.startswith("onionwatch.commands.")]:
            del sys.modules[key]
        sys.modules.update(saved)


def test_a_command_is_whole_after_another_registered_its_name() -> None:
    """`es` registers index_cmd's `index` group too; `index` asked for afterwards in the same
    process (a CLI runner, the docs test) must still load journal's `rebuild` into it. A fresh
    process: in this one, other tests have imported journal already."""
    code = ("from click.testing import CliRunner; from onionwatch.cli import main; r = CliRunner(); "
            "print([r.invoke(main, args).exit_code for args in (['es', '--help'], ['index', 'rebuild', '--help'])])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[0, 0]", out.stdout + out.stderr


def test_a_light_command_does_not_import_the_heavy_libraries() -> None:
    code = ("import sys; from onionwatch.cli import main; "
            "sys.argv = ['onionwatch', 'lab', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('spacy', 'scrapy', 'elasticsearch', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
