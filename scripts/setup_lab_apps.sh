#!/usr/bin/env bash
# Installs the lab's real web apps (configs/lab/apps): pinnwand and django-oscar from PyPI into
# a venv each under var/lab-apps/ (pinned; Oscar's migrated template database too), MediaWiki
# from Debian's packages (apt-get, as root; Debian's web server is not started). Idempotent:
# an app already installed with the same pinned list is skipped. Needs .venv (scripts/setup.sh)
# first. Only `onionwatch lab up --apps ...` and tests/test_lab_apps.py use them; the default
# lab does not. Run it outside the lab's network namespace: it needs the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m lab.apps install "${@:-all}"
