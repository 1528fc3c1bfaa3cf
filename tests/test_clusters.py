"""Mirror/clone clustering (clusters/): which onions are one site, which are clones, and
site ids that stay put across runs. Pure unit tests (no server)."""

from __future__ import annotations

import random

import pytest

import clusters
from clusters import (
    CLONE,
    MIRROR,
    Doc,
    cluster,
    favicon_hash,
    pairwise_scores,
    template_hash,
)

RNG = random.Random(7)
WORDS = sorted({"".join(RNG.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(RNG.randint(3, 9))) for _ in range(3000)})


def text(n: int, rng: random.Random = RNG) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


MARKET = [text(30) for _ in range(8)]  # blocks of a market's front page
BOILER = ["home", "listings", "vendors", "support", "login", "register", "faq", "escrow", "terms"]


def page(blocks: list[list[str]], *, seed: int, noise: float = 0.03, shuffle: bool = True, extra: str = "") -> str:
    rng = random.Random(seed)
    blocks = [list(b) for b in blocks]
    if shuffle:
        rng.shuffle(blocks)
    words = BOILER + [w for b in blocks for w in b + [str(rng.randint(1, 999))]]
    out = []
    for w in words:
        out.append(rng.choice(WORDS) if rng.random() < noise else w)
    return " ".join(out) + " " + extra


def onion(n: int) -> str:
    return f"{n:056d}".replace("0", "a") + ".onion"


def market_docs() -> list[Doc]:
    pay = ["bc1qoriginal0000000000000000000000000001"]
    docs = [Doc(onion(i), page(MARKET, seed=i, extra=f"you are on mirror {i}"), "Pangolin Market", payment=pay,
                first_seen=f"2026-01-0{i}T00:00:00Z") for i in (1, 2, 3)]
    docs.append(Doc(onion(9), page(MARKET, seed=9), "Pangolin Market",
                    payment=["bc1qphisher0000000000000000000000000009"], first_seen="2026-01-05T00:00:00Z"))
    others = [Doc(onion(20 + k), page([text(30) for _ in range(6)], seed=20 + k), f"Other shop {k}",
                  payment=[f"bc1qother{k}"], first_seen="2026-01-02T00:00:00Z") for k in range(5)]
    return docs + others


def test_mirrors_are_one_site_and_the_clone_is_flagged() -> None:
    result = cluster(market_docs())
    m1, m2, m3, fake = (result.members[onion(i)] for i in (1, 2, 3, 9))
    assert m1.site_id == m2.site_id == m3.site_id
    assert {m.role for m in (m1, m2, m3)} == {MIRROR}
    assert fake.role == CLONE and fake.clone_of == m1.site_id and fake.site_id != m1.site_id
    assert fake.group == m1.group == m1.site_id  # one content group: the site and its clone
    site = result.sites[m1.site_id]
    assert site.onions == [onion(1), onion(2), onion(3)] and site.clone_of is None
    assert result.sites[fake.site_id].clone_of == m1.site_id
    # the other shops stay alone; 1 site (3 addresses) + 1 clone + 5 others
    assert len(result.sites) == 7
    assert m2.similarity is not None and 0.5 <= m2.similarity < 1.0 and "text" in m2.signals
    assert "title" in m2.signals


def test_ids_are_stable_when_a_mirror_joins_and_do_not_depend_on_input_order() -> None:
    docs = market_docs()
    first = cluster(docs[:2] + docs[4:])
    sid = first.members[onion(1)].site_id
    assert sid == clusters.new_site_id(onion(1))  # the earliest-seen onion founded it
    previous = {o: m.site_id for o, m in first.members.items()}
    shuffled = docs[:]
    random.Random(3).shuffle(shuffled)
    second = cluster(shuffled, previous)
    assert {second.members[onion(i)].site_id for i in (1, 2, 3)} == {sid}
    for o, m in first.members.items():
        assert second.members[o].site_id == m.site_id
    # a mirror seen "earlier" than the founder (e.g. back-filled) does not take the id over
    late = [Doc(d.onion, d.text, d.title, payment=d.payment,
                first_seen="2025-12-01T00:00:00Z" if d.onion == onion(3) else d.first_seen) for d in docs]
    assert cluster(late, previous).members[onion(3)].site_id == sid


def test_a_merge_keeps_the_older_id_and_a_split_keeps_the_id_with_its_founder() -> None:
    a = [Doc(onion(1), page(MARKET[:5], seed=1), "Shop A", first_seen="2026-01-01T00:00:00Z")]
    b = [Doc(onion(2), page(MARKET[3:], seed=2), "Shop B", first_seen="2026-01-02T00:00:00Z")]
    first = cluster(a + b)
    ida, idb = first.members[onion(1)].site_id, first.members[onion(2)].site_id
    assert ida != idb
    # a third onion carrying both halves ties them together: the older site's id wins
    bridge = Doc(onion(3), page(MARKET, seed=3, shuffle=False, noise=0), "Shop AB", first_seen="2026-01-03T00:00:00Z")
    prev = {o: m.site_id for o, m in first.members.items()}
    merged = cluster(a + b + [bridge], prev)
    assert merged.members[onion(1)].group == merged.members[onion(2)].group == merged.members[onion(3)].group
    assert merged.members[onion(2)].site_id == merged.members[onion(3)].site_id == ida
    assert merged.merged_ids == {idb: ida}
    # the bridge goes away again: each half is its own site, founder keeps its id
    prev = {o: m.site_id for o, m in merged.members.items()}
    split = cluster(a + b, prev)
    assert split.members[onion(1)].site_id == ida
    assert split.members[onion(2)].site_id != ida


def test_the_original_is_the_one_its_mirror_list_points_to() -> None:
    """A clone seen first, or with as many addresses, does not become the original: the
    copied mirror list links the real mirrors."""
    mirror_list = [onion(1), onion(2)]
    pay, fake = ["bc1qreal"], ["bc1qfake"]
    docs = [Doc(onion(9), page(MARKET, seed=9), "Market", payment=fake, links=mirror_list,
                first_seen="2026-01-01T00:00:00Z"),
            Doc(onion(8), page(MARKET, seed=8), "Market", payment=fake, links=mirror_list,
                first_seen="2026-01-01T01:00:00Z"),
            Doc(onion(1), page(MARKET, seed=1), "Market", payment=pay, links=mirror_list,
                first_seen="2026-01-02T00:00:00Z"),
            Doc(onion(2), page(MARKET, seed=2), "Market", payment=pay, links=mirror_list,
                first_seen="2026-01-03T00:00:00Z")]
    result = cluster(docs)
    assert {o: m.role for o, m in result.members.items()} == {
        onion(1): MIRROR, onion(2): MIRROR, onion(9): CLONE, onion(8): CLONE}
    assert result.members[onion(9)].clone_of == result.members[onion(1)].site_id
    # without links the larger family wins, then the earliest seen
    plain = [Doc(d.onion, d.text, d.title, payment=d.payment, first_seen=d.first_seen) for d in docs[1:]]
    assert cluster(plain).members[onion(8)].role == CLONE


def test_thin_pages_stay_alone() -> None:
    docs = [Doc(onion(i), "It works!", "Apache2 Default Page", first_seen="2026-01-01T00:00:00Z") for i in range(4)]
    result = cluster(docs)
    assert len(result.sites) == 4
    assert all(m.similarity is None for m in result.members.values())


def test_duplicate_onions_are_refused() -> None:
    with pytest.raises(ValueError):
        cluster([Doc(onion(1), "a"), Doc(onion(1).upper(), "b")])


def test_tokens_drop_numbers_and_identifiers() -> None:
    assert clusters.tokens("Price 120 USD, pay bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh now!") == \
        ["price", "usd", "pay", "now"]
    assert len(clusters.shingle_hashes(["a", "b", "c", "d"], 3)) == 2
    assert len(clusters.shingle_hashes(["a", "b"], 3)) == 1
    assert len(clusters.shingle_hashes([], 3)) == 0


def test_structural_fingerprints() -> None:
    skeleton = ("<html><head><title>{t}</title><link rel='icon' href='data:image/png;base64,iVBORw0KGgo='></head>"
                "<body><div class='nav main'><a href='/'>{t}</a></div><ul class='items'><li>{t}</li></ul>"
                "<div class='foot'><p>{t}</p></div></body></html>")
    a, b = skeleton.format(t="one"), skeleton.format(t="two two")
    assert template_hash(a) == template_hash(b) is not None
    assert template_hash(a.replace("class='items'", "class='rows'")) != template_hash(a)
    assert template_hash("<p>hi</p>") is None and template_hash(None) is None
    assert favicon_hash(a) == favicon_hash(b) is not None
    assert favicon_hash(a.replace("iVBORw0KGgo=", "R0lGODlh")) != favicon_hash(a)
    assert favicon_hash("<link rel='icon' href='/favicon.ico'>") is None  # nothing is fetched


def test_pairwise_scores() -> None:
    truth = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 3}
    assert pairwise_scores({"a": "x", "b": "x", "c": "x", "d": "y", "e": "z"}, truth)["f1"] == 1.0
    s = pairwise_scores({"a": "x", "b": "x", "c": "y", "d": "y", "e": "z"}, truth)
    assert (s["true_pairs"], s["predicted_pairs"]) == (3, 2)
    assert s["precision"] == 0.5 and s["recall"] == pytest.approx(1 / 3)
