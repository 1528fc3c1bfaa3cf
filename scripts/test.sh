#!/usr/bin/env bash
# Runs the whole test suite. Tests that start the lab (a private Tor network) and crawl it
# run inside a fresh network namespace whose only interface is loopback, so nothing can
# leave the machine even if the code is wrong. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$(id -u)" -eq 0 ]; then
  exec unshare -n -- sh -c 'ip link set lo up && exec .venv/bin/python -m pytest "$@"' pytest "$@"
else
  exec unshare -rn -- sh -c 'ip link set lo up && exec .venv/bin/python -m pytest "$@"' pytest "$@"
fi
