"""`onionwatch tagger train`: retrain the offer classifier from a labelled corpus (the corpus
builder is bench/tagger_corpus.py, which reads the development sources offline)."""

from __future__ import annotations

import json
from pathlib import Path

import click

import configs


@click.group()
def tagger() -> None:
    """The tagger's trained parts."""


@tagger.command()
@click.option("--corpus", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="Directory of labelled JSONL made by bench/tagger_corpus.py.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where to write the trained pipeline (the shipped one is enrich/models/offers).")
@click.option("--arch", type=click.Choice(["bow", "ensemble"]), default="bow", show_default=True,
              help="textcat_multilabel architecture (configs/tagger/textcat_<arch>.cfg).")
@click.option("--seed", type=int, default=0, show_default=True, help="Same corpus + config + seed → same weights.")
def train(corpus: Path, out: Path, arch: str, seed: int) -> None:
    """Train the textcat_multilabel offer classifier (reproducible; versioned by a digest)."""
    from enrich.train import DEFAULT_WEIGHTS, train_from_corpus

    meta = train_from_corpus(corpus, out, configs.path("tagger", f"textcat_{arch}.cfg"), seed=seed,
                             weights=DEFAULT_WEIGHTS)
    click.echo(json.dumps(meta.get("onionwatch", meta), indent=1))


COMMANDS = [tagger]
