#!/usr/bin/env bash
# Installs everything onionwatch needs on a fresh Debian machine (idempotent):
# apt: tor (the lab and the crawler's Tor), privoxy (the crawl benchmark's comparison),
# redis-server (distributed frontier tests),
# docker-compose (validates docker-compose.yml; no engine needed), chromium + driver
# (browser tests), openssl (the local RFC 3161 time-stamp authority in the evidence tests), gcc +
# libc6-dev + python3-dev (the install compiles enrich's character pass with mypyc: setup.py); then
# a virtualenv in .venv with the project and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(tor privoxy redis-server docker-compose chromium chromium-driver fonts-noto-cjk fonts-thai-tlwg iproute2 util-linux openssl gcc libc6-dev python3-dev)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts a system tor on 9050; onionwatch never uses it (the lab has its own).

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,bench]"
# The lab's real third-party web apps (pinnwand, django-oscar, MediaWiki): a lab option that the
# tests use (tests/test_lab_apps.py); pinned venvs under var/lab-apps, MediaWiki from apt.
bash scripts/setup_lab_apps.sh
