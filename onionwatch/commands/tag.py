"""`onionwatch tag`: JSON Lines in ({"id", "text"}), one tagging result per line out, in order."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

import configs


@click.command("tag")
@click.option("--pipeline", "pipeline_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Packaged pipeline or configs directory (default: configs/tagger).")
@click.option("--batch-size", default=64, show_default=True, help="Texts per spaCy batch.")
@click.option("--processes", "-p", default=1, show_default=True, help="Worker processes.")
def tag(pipeline_path: Path | None, batch_size: int, processes: int) -> None:
    """Tag page texts read from stdin. Output has offsets only: no personal data in clear."""
    from enrich import Tagger

    tagger = Tagger.load(pipeline_path or configs.path("tagger"))
    records: list[dict] = []

    def texts() -> Iterator[str]:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record["text"] if isinstance(record, dict) else None
            except json.JSONDecodeError:
                record, text = {"id": None}, None
            records.append(record if isinstance(record, dict) else {"id": None})
            yield text if isinstance(text, str) else ""

    out = sys.stdout
    for i, result in enumerate(tagger.iter_tag(texts(), batch_size=batch_size, n_process=processes)):
        record = records[i]
        records[i] = {}  # processed: let the text go
        line = {"id": record.get("id"), **result}
        if not isinstance(record.get("text"), str):
            line["error"] = "input line is not a JSON object with a string 'text'"
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()


COMMANDS = [tag]
