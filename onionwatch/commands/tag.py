"""`onionwatch tag`: JSON Lines in ({"id", "text"} and optionally "kind_hint"), one tagging result
per line out, in order.

`kind_hint` is the page kind the page's structure shows (listing, shop, forum, paste, news,
other — what the crawler's structure pass passes on a crawl): it wins over the text's own guess.

Every input line gets exactly one output line, in order. Bad input never stops the run: a line
that is empty, not JSON, has no string `text`, is not UTF-8, holds a NUL byte or is longer than
--max-line-bytes gets an error record {"id", "line", "error"} on stdout (in its place) and a line
on stderr; every other line is still tagged. A text longer than the tagger's max_chars
(5,000,000) is tagged up to there and its record says so ("truncated"). Input is read and tagged
in chunks of lines, so memory stays bounded whatever the size of the input. The exit status is 0
unless reading stdin itself fails.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click

import configs

READ_BYTES = 1 << 20  # an over-long line is skipped in pieces of this size, never held whole
CHUNK_CHARS = 8 << 20  # text held and tagged at a time (besides one line up to --max-line-bytes)


Line = tuple[int, Any, str | tuple[str, str] | None, str | None]


def read_records(stream: BinaryIO, max_line_bytes: int) -> Iterator[Line]:
    """(line number, id, item, error) per input line, in order: item is the text, or the
    (text, page-kind hint) pair the tagger takes when the line has a `kind_hint`; None on error."""
    from enrich.pagekind import KINDS
    from enrich.records import KIND_HINT

    number = 0
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the line, piece by piece
                line = stream.readline(READ_BYTES)
            yield number, None, None, f"line longer than {max_line_bytes} bytes (--max-line-bytes): not read"
            continue
        if not line.strip():
            yield number, None, None, "empty line"
            continue
        if b"\x00" in line:
            yield number, None, None, "NUL byte in the input line"
            continue
        try:
            decoded = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, None, f"not UTF-8 (byte {exc.start})"
            continue
        try:
            record = json.loads(decoded)
        except json.JSONDecodeError as exc:
            yield number, None, None, f"not JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(record, dict):
            yield number, None, None, "not a JSON object"
            continue
        rid = record.get("id")
        text = record.get("text")
        if not isinstance(text, str):
            yield number, rid, None, "no string 'text'" if text is None else f"'text' is {type(text).__name__}, not a string"
            continue
        if "\x00" in text:
            yield number, rid, None, "'text' contains a NUL character"
            continue
        hint = record.get(KIND_HINT)
        if hint is not None and hint not in KINDS:
            yield number, rid, None, f"'{KIND_HINT}' must be one of {', '.join(KINDS)}"
            continue
        yield number, rid, (text, hint) if hint else text, None


def _chunk(records: Iterator[Line], lines: int) -> list[Line]:
    """The next lines to tag together: at most `lines` of them and about CHUNK_CHARS of text
    (one long text is a chunk of its own), so memory is bounded by size, not only by count."""
    chunk: list[Line] = []
    chars = 0
    for record in records:
        chunk.append(record)
        item = record[2]
        chars += len(item[0] if isinstance(item, tuple) else item or "")
        if len(chunk) >= max(1, lines) or chars >= CHUNK_CHARS:
            break
    return chunk


@click.command("tag")
@click.option("--pipeline", "pipeline_path", type=click.Path(exists=True, path_type=Path), default=None,
              help="Packaged pipeline or configs directory (default: configs/tagger).")
@click.option("--batch-size", default=64, show_default=True, help="Texts per spaCy batch.")
@click.option("--processes", "-p", default=1, show_default=True, help="Worker processes.")
@click.option("--chunk-lines", default=1024, show_default=True, help="Input lines read and tagged at a time (bounds memory).")
@click.option("--max-line-bytes", default=64 * 1024 * 1024, show_default=True, help="Longer input lines are reported, not read.")
@click.option("--no-classifier", is_flag=True, help="Rules only (no trained offer classifier).")
def tag(pipeline_path: Path | None, batch_size: int, processes: int, chunk_lines: int, max_line_bytes: int,
        no_classifier: bool) -> None:
    """Tag page texts read from stdin. Output has offsets only: no personal data in clear."""
    from enrich import Tagger

    tagger = Tagger.load(pipeline_path or configs.path("tagger"), classifier="" if no_classifier else None)
    out, err = sys.stdout, sys.stderr
    records = read_records(sys.stdin.buffer, max_line_bytes)
    failed = 0
    while True:
        try:
            chunk = _chunk(records, chunk_lines)
        except OSError as exc:  # stdin itself failed (lines of the chunk being read are lost)
            err.write(f"cannot read standard input: {exc}\n")
            sys.exit(1)
        if not chunk:
            break
        results = iter(tagger.tag_many([item for _, _, item, _ in chunk if item is not None],
                                       batch_size=batch_size, n_process=processes))
        for number, rid, _item, error in chunk:
            if error is not None:
                failed += 1
                err.write(f"line {number}: {error}\n")
                line: dict[str, Any] = {"id": rid, "line": number, "error": error}
            else:
                line = {"id": rid, **next(results)}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    if failed:
        err.write(f"{failed} input line(s) not tagged (error records written in their place)\n")


COMMANDS = [tag]
