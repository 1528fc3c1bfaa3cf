#!/usr/bin/env bash
# Installs what is needed, then runs the demo: the lab (a private Tor network with sample
# onion sites), the local Elasticsearch-compatible server, a crawl of the lab through Tor,
# tagging, indexing, and a summary with search results. The demo runs in a network
# namespace with only loopback, so nothing it does can reach another machine.
# The index stays on disk afterwards: try `.venv/bin/onionwatch search pangolin`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -n --); else NS=(unshare -rn --); fi
exec "${NS[@]}" sh -c 'ip link set lo up && exec .venv/bin/onionwatch demo "$@"' demo "$@"
