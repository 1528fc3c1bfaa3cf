#!/usr/bin/env bash
# Creates bench/.venv-presidio: Presidio's analyzer in its own environment (never the main venv),
# plus this project (editable) so the same run can measure both side by side.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
venv="$here/.venv-presidio"
python3.11 -m venv "$venv" 2>/dev/null || python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "presidio-analyzer==${PRESIDIO_VERSION:-2.2.366}" -e "$repo"
# Optional small English model for the "with NER" speed row; see README-tagging.md for provenance.
if [[ -n "${SPACY_SMALL_MODEL:-}" ]]; then "$venv/bin/pip" install -q "$SPACY_SMALL_MODEL"; fi
echo "ready: $venv"
