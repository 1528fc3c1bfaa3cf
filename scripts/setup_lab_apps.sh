#!/usr/bin/env bash
# Installs the lab's real web apps (configs/lab/apps: pinnwand, django-oscar) from PyPI into a
# venv each under var/lab-apps/, plus Oscar's migrated template database. Idempotent: an app
# whose pinned list is unchanged is skipped. Needs .venv (scripts/setup.sh) first.
# Only `onionwatch lab up --apps ...` and tests/test_lab_apps.py use them; the default lab does not.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m lab.apps install "${@:-all}"
