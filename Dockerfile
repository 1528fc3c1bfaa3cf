# The onionwatch image: the CLI (crawler, index setup, later the web app) and Tor.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends tor \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 onionwatch \
 && mkdir -p /data /run/tor-cookie \
 && chown onionwatch:onionwatch /data /run/tor-cookie \
 && chmod 0750 /run/tor-cookie

WORKDIR /app
COPY pyproject.toml setup.py README.md ./
# every package pyproject.toml installs (tests/test_index_compose.py keeps this list complete)
COPY alerts/ alerts/
COPY clusters/ clusters/
COPY configs/ configs/
COPY crawler/ crawler/
COPY enrich/ enrich/
COPY evidence/ evidence/
COPY index/ index/
COPY journal/ journal/
COPY lab/ lab/
COPY listings/ listings/
COPY onionwatch/ onionwatch/
COPY procs/ procs/
# Editable: configs/ (mappings, lexicons, rules) stay beside the code, where every part looks for them.
# gcc only for the install: setup.py compiles enrich's character pass with mypyc (without a
# compiler it warns and installs plain Python: same results, slower tagging)
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && pip install --no-cache-dir -e . && python -m compileall -q /app \
 && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

ENV ONIONWATCH_CONFIGS=/app/configs \
    ONIONWATCH_HOME=/data \
    PYTHONUNBUFFERED=1

USER onionwatch
VOLUME ["/data"]
ENTRYPOINT ["onionwatch"]
CMD ["--help"]
