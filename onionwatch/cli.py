"""The `onionwatch` command. Each area registers its commands from onionwatch/commands/.

A command's module is imported only when that command runs (or when help lists it): the
command modules pull in spaCy, Scrapy, the Elasticsearch client and scipy, ~2 s of imports that
every `onionwatch` call used to pay, light ones like `lab status` or `token create` included.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# command name -> the modules of onionwatch/commands/ whose COMMANDS define it, in import order
# (journal adds `rebuild` to the index group that index_cmd defines). tests/test_cli.py keeps
# this table equal to what the modules define.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "alerts": ("alerts",),
    "check": ("check",),
    "crawl": ("crawl",),
    "demo": ("demo",),
    "es": ("index_cmd",),
    "evidence": ("evidence",),
    "export": ("export",),
    "index": ("index_cmd", "journal"),
    "lab": ("lab",),
    "listings": ("listings",),
    "pivot": ("listings",),
    "search": ("search",),
    "serve": ("serve",),
    "services": ("services",),
    "sites": ("sites",),
    "stats": ("stats",),
    "tag": ("tag",),
    "tagger": ("tagger",),
    "token": ("token",),
    "vendors": ("listings",),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported from their module on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loaded_modules: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # every module the command needs, even when another command already registered its name
        # (`es` registers index_cmd's `index` group; `rebuild` joins it only from journal)
        for module in COMMAND_MODULES.get(cmd_name, ()):
            if module not in self.loaded_modules:
                self.loaded_modules.add(module)
                for cmd in getattr(importlib.import_module(f"onionwatch.commands.{module}"), "COMMANDS", []):
                    self.add_command(cmd)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="onionwatch")
def main() -> None:
    """Monitor onion services: crawl through Tor, tag offers and leaked data, search, alert."""


if __name__ == "__main__":
    main()
