"""Mirror and clone clusters: near-duplicate onions grouped into sites, with ids that stay.

Pipeline (near-linear in the number of onions):

1. Each onion's visible text becomes a set of k-word shingle hashes (``features``); onions
   with fewer than ``min_shingles`` shingles (login walls, default server pages, empty
   pages) carry too little to tie to anything and stay alone.
2. A MinHash signature per onion (``datasketch.MinHash``), indexed in a ``MinHashLSH``
   tuned for the lower (structural) threshold; each onion queries the index for
   candidates, so only likely pairs are ever compared.
3. A candidate pair is an edge when its estimated Jaccard similarity is at least
   ``threshold``, or at least ``threshold_structural`` and a structural signal agrees
   (same non-trivial title, same DOM skeleton, same inline favicon, a shared PGP key).
   Connected components are *content groups*.
4. Inside a group, payment identifiers split operators: members that share a payment
   address (or show none) are mirrors of one site; a member whose payment addresses are
   all different is a *clone* (same content, other money: the phishing pattern) and is a
   site of its own, ``clone_of`` the reference site. The reference (the original) is the
   family the group's pages link to as mirrors (a clone copies the mirror list, which
   points at the original), then the family with more addresses, then the earliest seen.
5. Site ids are persisted by the caller and passed back in as ``previous``: a site keeps
   the id held by its earliest-seen member, so ids never shuffle when a mirror joins,
   two sites merge (the older id wins) or a site splits (the part holding the earliest
   id-holder keeps it). A new site's id derives from its earliest-seen onion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from clusters.features import identifier_set, normalise_title, shingle_hashes, tokens

MIRROR, CLONE = "mirror", "clone"


@dataclass(frozen=True)
class Params:
    """Clustering knobs; the defaults are the ones measured in bench/cluster_bench.py."""

    num_perm: int = 128
    shingle: int = 3
    threshold: float = 0.5
    threshold_structural: float = 0.35
    min_shingles: int = 12
    seed: int = 1

    def describe(self) -> str:
        return (f"MinHash/LSH on {self.shingle}-word shingles, {self.num_perm} permutations; same site when "
                f"estimated Jaccard >= {self.threshold}, or >= {self.threshold_structural} with a matching "
                f"title, DOM skeleton, favicon or PGP key; different payment addresses make a clone")


@dataclass
class Doc:
    """What clustering knows about one onion (its landing page, or its pages' text joined)."""

    onion: str
    text: str = ""
    title: str = ""
    template: str | None = None
    favicon: str | None = None
    pgp: Iterable[str] = ()
    payment: Iterable[str] = ()
    first_seen: str | None = None
    links: Iterable[str] = ()  # onion hosts its pages link to or name (e.g. an "official mirrors" list)


@dataclass(frozen=True)
class Member:
    """One onion's place: its site, whether it mirrors or clones, and why."""

    onion: str
    site_id: str
    role: str
    clone_of: str | None
    group: str
    similarity: float | None
    signals: tuple[str, ...]


@dataclass
class Site:
    site_id: str
    onions: list[str]
    clone_of: str | None
    group: str
    first_seen: str | None


@dataclass
class Result:
    members: dict[str, Member]
    sites: dict[str, Site]
    params: Params
    candidate_pairs: int = 0
    edges: int = 0
    merged_ids: dict[str, str] = field(default_factory=dict)  # previous id -> id it merged into

    def groups(self) -> dict[str, list[str]]:
        """Content groups (site + its clones): group id -> onions."""
        out: dict[str, list[str]] = {}
        for m in self.members.values():
            out.setdefault(m.group, []).append(m.onion)
        return out


def new_site_id(onion: str, salt: int = 0) -> str:
    """A fresh id from the onion that founded the site (deterministic, so reruns agree)."""
    return "site-" + hashlib.sha256(f"{onion}\n{salt}".encode()).hexdigest()[:12]


def _time_key(value: str | None) -> float:
    if not value:
        return float("inf")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def signatures(docs: Sequence[Doc], params: Params) -> list[LeanMinHash | None]:
    """One MinHash per doc (None when it has fewer than ``min_shingles`` shingles)."""
    base = MinHash(num_perm=params.num_perm, seed=params.seed, hashfunc=int)
    out: list[LeanMinHash | None] = []
    for d in docs:
        sh = shingle_hashes(tokens(d.text), params.shingle)
        if len(sh) < params.min_shingles:
            out.append(None)
            continue
        base.clear()
        base.update_batch(sh)
        out.append(LeanMinHash(base))
    return out


def _structure(a: Doc, b: Doc, ta: str, tb: str) -> list[str]:
    agree = []
    if ta and ta == tb and len(ta.split()) >= 2:
        agree.append("title")
    if a.template and a.template == b.template:
        agree.append("template")
    if a.favicon and a.favicon == b.favicon:
        agree.append("favicon")
    if set(a.pgp) & set(b.pgp):
        agree.append("pgp")
    return agree


def cluster(docs: Sequence[Doc], previous: Mapping[str, str] | None = None,
            params: Params | None = None, *, sigs: Sequence[LeanMinHash | None] | None = None) -> Result:
    """Cluster onions into sites (see the module docstring).

    ``previous`` maps onion -> site id from the last run (persisted by the caller)."""
    params = params or Params()
    previous = dict(previous or {})
    docs = [Doc(d.onion.lower(), d.text or "", d.title or "", d.template, d.favicon, identifier_set(d.pgp),
                identifier_set(d.payment), d.first_seen, frozenset(x.lower() for x in d.links or ()))
            for d in docs]
    if len({d.onion for d in docs}) != len(docs):
        raise ValueError("each onion may appear once")
    n = len(docs)
    sigs = list(sigs) if sigs is not None else signatures(docs, params)
    titles = [normalise_title(d.title) for d in docs]

    lsh = MinHashLSH(threshold=params.threshold_structural, num_perm=params.num_perm)
    with lsh.insertion_session(buffer_size=10000) as session:
        for i, s in enumerate(sigs):
            if s is not None:
                session.insert(i, s, check_duplication=False)
    uf = _UnionFind(n)
    candidates = edges = 0
    for i, s in enumerate(sigs):
        if s is None:
            continue
        for j in lsh.query(s):
            if j <= i:
                continue
            candidates += 1
            sim = s.jaccard(sigs[j])
            if sim >= params.threshold or (sim >= params.threshold_structural
                                           and _structure(docs[i], docs[j], titles[i], titles[j])):
                uf.union(i, j)
                edges += 1

    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(uf.find(i), []).append(i)
    order = {i: (_time_key(docs[i].first_seen), docs[i].onion) for i in range(n)}

    # families: mirrors of one operator inside a content group
    families: list[tuple[list[int], bool, int]] = []  # (members, is_clone, group key)
    for key, members in groups.items():
        members.sort(key=order.__getitem__)
        for fam, clone in _split_by_payment(members, docs):
            families.append((fam, clone, key))

    taken: set[str] = set()
    fam_ids: list[str] = []
    merged: dict[str, str] = {}
    # references before clones, oldest first: the oldest claim on a previous id wins
    ranked = sorted(range(len(families)), key=lambda k: (families[k][1], order[families[k][0][0]]))
    ids_by_family: dict[int, str] = {}
    for k in ranked:
        fam = families[k][0]
        held = [previous[docs[i].onion] for i in fam if docs[i].onion in previous]
        free = [sid for sid in held if sid not in taken]
        if free:
            sid = free[0]  # fam is sorted by first_seen: the earliest member's id
        else:
            salt = 0
            sid = new_site_id(docs[fam[0]].onion)
            while sid in taken or (sid in previous.values() and sid not in held):
                salt += 1
                sid = new_site_id(docs[fam[0]].onion, salt)
        for old in set(held) - {sid}:
            merged.setdefault(old, sid)
        taken.add(sid)
        ids_by_family[k] = sid
    fam_ids = [ids_by_family[k] for k in range(len(families))]

    ref_of_group: dict[int, str] = {}
    ref_member: dict[int, int] = {}
    for k, (fam, clone, key) in enumerate(families):
        if not clone:
            ref_of_group[key] = fam_ids[k]
            ref_member[key] = fam[0]

    members: dict[str, Member] = {}
    sites: dict[str, Site] = {}
    for k, (fam, clone, key) in enumerate(families):
        sid = fam_ids[k]
        ref = ref_member[key]
        sites[sid] = Site(sid, [docs[i].onion for i in fam], ref_of_group[key] if clone else None,
                          ref_of_group[key], docs[fam[0]].first_seen)
        for i in fam:
            sim = None
            if sigs[i] is not None and sigs[ref] is not None:
                sim = 1.0 if i == ref else round(sigs[i].jaccard(sigs[ref]), 3)
            signals = ("text",) if sim is not None and i != ref else ()
            if i != ref:
                signals += tuple(_structure(docs[i], docs[ref], titles[i], titles[ref]))
            members[docs[i].onion] = Member(docs[i].onion, sid, CLONE if clone else MIRROR,
                                            ref_of_group[key] if clone else None, ref_of_group[key], sim, signals)
    for old in list(merged):
        if old in taken:  # still a live site id (it only lost members): not a merge
            del merged[old]
    return Result(members, sites, params, candidates, edges, merged)


def _split_by_payment(members: list[int], docs: Sequence[Doc]) -> list[tuple[list[int], bool]]:
    """[(family, is_clone)] for one content group; members sorted by first seen."""
    if len(members) == 1:
        return [(members, False)]
    uf = _UnionFind(len(members))
    owner: dict[str, int] = {}
    for pos, i in enumerate(members):
        for value in docs[i].payment:
            if value in owner:
                uf.union(owner[value], pos)
            else:
                owner[value] = pos
    paying = [pos for pos, i in enumerate(members) if docs[i].payment]
    roots = {uf.find(p) for p in paying}
    if len(roots) <= 1:
        return [(members, False)]
    # the reference family (the original operator): the one the group's own pages point to
    # as its mirrors (a phishing clone copies the page, mirror list included, so its links
    # endorse the original), then the one with more addresses, then the earliest seen;
    # members without payment identifiers join it
    linked = [o for i in members for o in docs[i].links]

    def score(root: int) -> tuple[int, int, int]:
        fam = {docs[members[p]].onion for p in range(len(members)) if docs[members[p]].payment and uf.find(p) == root}
        first = min(p for p in paying if uf.find(p) == root)
        return (sum(1 for o in linked if o in fam), len(fam), -first)

    ref_root = max(roots, key=score)
    fams: dict[int, list[int]] = {}
    for pos, i in enumerate(members):
        root = uf.find(pos) if docs[i].payment else ref_root
        fams.setdefault(root, []).append(i)
    out = [(fams.pop(ref_root), False)]
    out += [(fam, True) for fam in fams.values()]
    return out


def pairwise_scores(predicted: Mapping[str, str], truth: Mapping[str, str]) -> dict[str, float]:
    """Pairwise precision/recall/F1 of a clustering against the true one (label per item).

    Counted from the contingency table, so it is linear in the number of items."""
    keys = list(truth)
    pred = np.unique([predicted[k] for k in keys], return_inverse=True)[1]
    true = np.unique([truth[k] for k in keys], return_inverse=True)[1]
    joint = np.unique(pred.astype(np.int64) * (true.max() + 1) + true, return_counts=True)[1]

    def pairs(counts: np.ndarray) -> int:
        c = counts.astype(np.int64)
        return int((c * (c - 1) // 2).sum())

    tp = pairs(joint)
    p_pairs = pairs(np.bincount(pred))
    t_pairs = pairs(np.bincount(true))
    precision = tp / p_pairs if p_pairs else 1.0
    recall = tp / t_pairs if t_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": t_pairs, "predicted_pairs": p_pairs}
