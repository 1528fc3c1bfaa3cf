"""The `onionwatch` command. Each area registers its commands from onionwatch/commands/."""

from __future__ import annotations

import importlib
import pkgutil

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="onionwatch")
def main() -> None:
    """Monitor onion services: crawl through Tor, tag offers and leaked data, search, alert."""


def _register() -> None:
    from onionwatch import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"onionwatch.commands.{info.name}")
        for cmd in getattr(module, "COMMANDS", []):
            main.add_command(cmd)


_register()

if __name__ == "__main__":
    main()
