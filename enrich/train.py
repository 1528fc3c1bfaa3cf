"""Training the offer classifier: a spaCy `textcat_multilabel` trained through a config.cfg.

The run is reproducible: the same records, config and seed give the same weights, and the model's
version is derived from exactly those (a digest), so every tagged record names what tagged it.
Callers: bench/train_tagger.py and the `onionwatch tagger train` command.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import spacy
from spacy.tokens import DocBin

CATEGORIES = ("drugs", "leaked_data", "wildlife")


def model_version(records: list[Mapping[str, Any]], config_text: str, seed: int, name: str) -> str:
    """`<name>-<digest>` of the training records, the config and the seed."""
    h = hashlib.sha256()
    h.update(config_text.encode())
    h.update(str(seed).encode())
    for r in records:
        h.update(json.dumps([r["text"], sorted(r["labels"])], ensure_ascii=False).encode())
    return f"{name}-{h.hexdigest()[:12]}"


def _docbin(nlp: spacy.Language, records: Iterable[Mapping[str, Any]], labels: tuple[str, ...]) -> DocBin:
    db = DocBin(store_user_data=False)
    for r in records:
        doc = nlp.make_doc(r["text"])
        doc.cats = {label: float(label in r["labels"]) for label in labels}
        db.add(doc)
    return db


def train_textcat(
    train: list[Mapping[str, Any]],
    dev: list[Mapping[str, Any]],
    out_dir: str | Path,
    config: str | Path,
    *,
    seed: int = 0,
    labels: tuple[str, ...] = CATEGORIES,
    name: str = "offers",
    max_chars: int = 2000,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on `train` (records with "text" and "labels"), select on `dev`, write a spaCy pipeline
    (tokenizer + textcat_multilabel) to out_dir. Returns its meta (incl. "model_version").
    `overrides`: further spaCy config overrides, e.g. {"training.max_steps": 100}."""
    from spacy.cli.train import train as spacy_train

    config = Path(config)
    config_text = config.read_text(encoding="utf-8")
    cut = [{"text": r["text"][:max_chars], "labels": list(r["labels"])} for r in train]
    cut_dev = [{"text": r["text"][:max_chars], "labels": list(r["labels"])} for r in dev]
    version = model_version(cut, config_text + (json.dumps(dict(overrides), sort_keys=True) if overrides else ""), seed, name)
    blank = spacy.blank(spacy.util.load_config(config)["nlp"]["lang"])
    with tempfile.TemporaryDirectory(prefix="ow-textcat-") as tmp:
        tmp_path = Path(tmp)
        _docbin(blank, cut, labels).to_disk(tmp_path / "train.spacy")
        _docbin(blank, cut_dev, labels).to_disk(tmp_path / "dev.spacy")
        spacy_train(
            config,
            output_path=tmp_path / "out",
            use_gpu=-1,
            overrides={"paths.train": str(tmp_path / "train.spacy"), "paths.dev": str(tmp_path / "dev.spacy"),
                       "system.seed": seed, **dict(overrides or {})},
        )
        nlp = spacy.load(tmp_path / "out" / "model-best")
    nlp.meta.update({
        "name": name, "version": "1.0.0",
        "description": "onionwatch offer classifier (drugs, leaked_data, wildlife); see bench/README-tagging.md",
        "onionwatch": {"model_version": version, "seed": seed, "config": config.name, "max_chars": max_chars,
                       "train_records": len(cut), "dev_records": len(cut_dev), "labels": list(labels)},
    })
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out_dir)
    return nlp.meta


def predict(nlp: spacy.Language, texts: Iterable[str], max_chars: int = 2000, batch_size: int = 256) -> list[dict[str, float]]:
    """Category scores for each text (its first max_chars characters)."""
    return [dict(doc.cats) for doc in nlp.pipe((t[:max_chars] for t in texts), batch_size=batch_size)]


# -- the development corpus (bench/tagger_corpus.py writes it) ---------------------------------

DEFAULT_WEIGHTS = {"none": 4, "leaked_data": 3, "wildlife": 2, "drugs": 1}
TRAIN_SOURCES = ("agora", "own")


def read_corpus(corpus_dir: str | Path, sources: Iterable[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for source in sources:
        path = Path(corpus_dir) / f"{source}.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: build the corpus first (bench/tagger_corpus.py)")
        with path.open(encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh]
    return rows


def oversample(rows: list[dict[str, Any]], weights: Mapping[str, int], seed: int) -> list[dict[str, Any]]:
    """Repeat rows of rare labels (the markets are mostly drugs) and shuffle, reproducibly."""
    import random

    out: list[dict[str, Any]] = []
    for r in rows:
        k = max([weights.get(label, 1) for label in r["labels"]] or [weights.get("none", 1)])
        out += [r] * k
    random.Random(seed).shuffle(out)
    return out


def train_from_corpus(
    corpus_dir: str | Path,
    out_dir: str | Path,
    config: str | Path,
    *,
    seed: int = 0,
    weights: Mapping[str, int] | None = None,
    sources: Iterable[str] = TRAIN_SOURCES,
    name: str = "offers",
) -> dict[str, Any]:
    """Train on the corpus's training rows (Agora Jan-Feb 2014 + our own text), select on Agora
    March 2014; Dream Market (another market, 2016-17) stays untouched for testing."""
    rows = read_corpus(corpus_dir, sources)
    train = [r for r in rows if r.get("split") == "train"]
    dev = [r for r in rows if r.get("split") == "dev"]
    weights = dict(weights or DEFAULT_WEIGHTS)
    meta = train_textcat(oversample(train, weights, seed), dev, out_dir, config, seed=seed, name=name)
    meta["onionwatch"].update({"sources": list(sources), "weights": weights, "unique_train_records": len(train)})
    (Path(out_dir) / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta
