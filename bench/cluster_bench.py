"""Mirror/clone clustering: quality (pairwise precision/recall against known mirrors) and
cost at 1k, 10k and 100k onions, side by side in one run.

The pages are generated with a known answer, made to be hard in the ways real onion
mirrors are:

- sites run one of a few dozen "market/forum software" templates: shared boilerplate
  (header, navigation, footer), shared DOM skeleton and title suffix — hard negatives;
- "kit" sites share 40% of their text with other sites of the same scam kit (different
  operators, different payment addresses) — harder negatives;
- every address of a site varies: a mirror-specific banner instead of the header
  (varying boilerplate), shuffled content blocks (reordered), a dropped block or an
  added news block, 3% of words replaced or inserted at random (injected noise), live
  numbers (prices, counters), sometimes a different DOM skeleton;
- 75% of sites have one address, 17% 2-3, 8% 4-12; half of the multi-address sites list
  their mirrors on the page; 3% of sites have a phishing clone (same content, other payment
  addresses, PGP block and mirror list copied).

Scores: pairwise precision/recall of the *content groups* (site + its clones) and of the
*sites* (a clone is its own site), and clone flags (precision/recall of role=clone).
Stability: cluster 90% of the onions, then all of them with the first run's ids passed
back: how many earlier onions changed site id.

Run:  .venv/bin/python bench/cluster_bench.py [--sizes 1000,10000,100000] [--num-perm 128]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import log, machine, print_table
from clusters import CLONE, Doc, Params, cluster, pairwise_scores, signatures

SYLL = ["ka", "lo", "mi", "ne", "ru", "ta", "vi", "so", "pe", "da", "gu", "ho", "zi", "ba", "fe", "wo", "xa",
        "qu", "ly", "tro", "sen", "mar", "pol", "kin", "dor", "lum", "vex", "nar", "tis", "gol"]


def vocabulary(rng: random.Random, n: int = 30000) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLL) for _ in range(rng.randint(1, 4))))
    return sorted(words)


@dataclass
class Truth:
    group: dict[str, str]     # onion -> content group (site + clones)
    operator: dict[str, str]  # onion -> site (a clone is its own)
    clone: set[str]           # onions that are clones


class Generator:
    def __init__(self, seed: int, noise: float = 0.03) -> None:
        self.rng = random.Random(seed)
        self.vocab = vocabulary(self.rng)
        # a Zipf-like draw: frequent words are frequent, as in real text
        self.cum = list(accumulate(1.0 / (r + 10) for r in range(len(self.vocab))))
        self.noise = noise
        self.counter = 0

    def words(self, n: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=n)

    def onion(self) -> str:
        self.counter += 1
        return f"{self.rng.getrandbits(200):056x}"[:56] + f"{self.counter:x}"[-0:] + ".onion"

    def templates(self, n: int) -> list[dict]:
        return [{"header": self.words(self.rng.randint(10, 20)), "nav": self.words(self.rng.randint(8, 15)),
                 "footer": self.words(self.rng.randint(15, 30)), "suffix": self.words(2), "dom": f"tpl{t}"}
                for t in range(n)]

    def numbers(self) -> list[str]:
        return [str(self.rng.randint(1, 99999)) for _ in range(self.rng.randint(1, 4))]

    def page(self, site: dict, tpl: dict, payment: list[str]) -> tuple[str, str, str]:
        rng = self.rng
        blocks = [list(b) for b in site["blocks"]]
        if rng.random() < 0.5:
            rng.shuffle(blocks)
        if len(blocks) > 4 and rng.random() < 0.3:
            blocks.pop(rng.randrange(len(blocks)))
        if rng.random() < 0.3:
            blocks.insert(rng.randrange(len(blocks) + 1), self.words(rng.randint(10, 20)))
        header = tpl["header"] if rng.random() < 0.5 else self.words(rng.randint(5, 15))
        body: list[str] = []
        for b in blocks:
            body += b + self.numbers()
        words = header + tpl["nav"] + body + ["pay", "to"] + payment + tpl["footer"] + ["online"] + self.numbers()
        out = []
        for w in words:  # injected noise: replace or insert a random word
            r = rng.random()
            if r < self.noise / 2:
                out.append(self.words(1)[0])
            elif r < self.noise:
                out += [w, self.words(1)[0]]
            else:
                out.append(w)
        title = " ".join(site["name"] + tpl["suffix"]) + (f" mirror {rng.randint(1, 20)}" if rng.random() < 0.5 else "")
        dom = tpl["dom"] if rng.random() < 0.8 else f"{tpl['dom']}-{rng.randint(0, 3)}"
        return " ".join(out), title, dom

    def corpus(self, n_onions: int) -> tuple[list[Doc], Truth]:
        rng = self.rng
        tpls = self.templates(max(20, n_onions // 300))
        kits = [[self.words(rng.randint(30, 60)) for _ in range(6)] for _ in range(max(5, n_onions // 1000))]
        docs: list[Doc] = []
        truth = Truth({}, {}, set())
        s = 0
        day = 0
        while len(docs) < n_onions:
            s += 1
            tpl = rng.choice(tpls)
            blocks = [self.words(rng.randint(12, 40)) for _ in range(rng.randint(4, 10))]
            if rng.random() < 0.1:  # a kit site: 40% of its text is a shared scam kit
                kit = [w for b in rng.choice(kits) for w in b]
                blocks.append(kit[: sum(map(len, blocks)) * 2 // 3])
            site = {"name": self.words(rng.randint(1, 3)), "blocks": blocks}
            r = rng.random()
            n_addr = 1 if r < 0.75 else rng.randint(2, 3) if r < 0.92 else rng.randint(4, 12)
            payment = [f"bc1q{rng.getrandbits(128):032x}" for _ in range(rng.randint(1, 3))]
            pgp = [f"pgp{rng.getrandbits(64):016x}"] if rng.random() < 0.5 else []
            favicon = f"ico{rng.getrandbits(64):016x}" if rng.random() < 0.3 else None
            variants = [(f"s{s}", payment, False)] * n_addr
            if rng.random() < 0.03:
                variants += [(f"s{s}c{k}", [f"bc1q{rng.getrandbits(128):032x}"], True) for k in range(rng.randint(1, 2))]
            hosts = [self.onion() for _ in variants]
            # half the multi-address sites list their mirrors on the page (a clone copies the list)
            mirror_list = hosts[:n_addr] if n_addr > 1 and rng.random() < 0.5 else []
            for (op, pay, is_clone), o in zip(variants, hosts, strict=True):
                if len(docs) >= n_onions:
                    break
                day += 1
                text, title, dom = self.page(site, tpl, pay)
                # first seen: the original's mirrors in order, clones after it
                seen = f"2026-{1 + (day // 28000) % 12:02d}-{1 + (day // 1000) % 28:02d}T{(day // 60) % 24:02d}:{day % 60:02d}:00Z"
                docs.append(Doc(o, text, title, dom, favicon if not is_clone or rng.random() < 0.5 else None,
                                pgp, pay, seen, mirror_list))
                truth.group[o] = f"s{s}"
                truth.operator[o] = op
                if is_clone:
                    truth.clone.add(o)
        order = list(range(len(docs)))
        rng.shuffle(order)  # input order must not matter
        return [docs[i] for i in order], truth


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MB."""
    cur = peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cur, peak


def clone_scores(result, truth: Truth) -> tuple[float, float]:
    flagged = {o for o, m in result.members.items() if m.role == CLONE}
    tp = len(flagged & truth.clone)
    return (tp / len(flagged) if flagged else 1.0), (tp / len(truth.clone) if truth.clone else 1.0)


def run(size: int, params: Params, seed: int) -> dict:
    gen = Generator(seed)
    t0 = time.perf_counter()
    docs, truth = gen.corpus(size)
    t_gen = time.perf_counter() - t0
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    sigs = signatures(docs, params)
    t_sig, c_sig = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    result = cluster(docs, params=params, sigs=sigs)
    t_cluster, c_cluster = time.perf_counter() - t0, time.process_time() - c0
    grp = pairwise_scores({o: m.group for o, m in result.members.items()}, truth.group)
    site = pairwise_scores({o: m.site_id for o, m in result.members.items()}, truth.operator)
    cp, cr = clone_scores(result, truth)
    # stability: 90% first, then everything with the first run's ids
    keep = {d.onion for d in docs[: int(len(docs) * 0.9)]}
    first = cluster([d for d in docs if d.onion in keep], params=params,
                    sigs=[s for d, s in zip(docs, sigs, strict=True) if d.onion in keep])
    second = cluster(docs, {o: m.site_id for o, m in first.members.items()}, params, sigs=sigs)
    changed = sum(1 for o, m in first.members.items() if second.members[o].site_id != m.site_id)
    merged_away = sum(1 for o, m in first.members.items() if m.site_id in second.merged_ids)
    _, peak = rss_mb()
    return {"size": size, "gen": t_gen, "sig": t_sig, "cluster": t_cluster, "cpu": c_sig + c_cluster, "grp": grp, "site": site,
            "clone": (cp, cr), "true_sites": len(set(truth.operator.values())), "sites": len(result.sites),
            "candidates": result.candidate_pairs, "edges": result.edges, "changed": changed,
            "merged_away": merged_away, "peak_mb": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--num-perm", type=int, default=Params.num_perm)
    ap.add_argument("--seed", type=int, default=2026, help="thresholds were tuned on seed 16 at 5,000 onions")
    args = ap.parse_args()
    params = Params(num_perm=args.num_perm)
    print(f"machine: {machine()}")
    print(f"params: {params.describe()}; min_shingles={params.min_shingles}")
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        log(f"{size} onions ...")
        results.append(run(size, params, args.seed))
        r = results[-1]
        log(f"{size}: signatures {r['sig']:.1f}s, cluster {r['cluster']:.1f}s, group P/R "
            f"{r['grp']['precision']:.4f}/{r['grp']['recall']:.4f}")
    base = results[0]
    per = lambda r: r["cpu"] / r["size"] * 1e6
    print_table("Quality (pairwise, against the generator's truth)",
                ["onions", "true sites", "found sites", "group P", "group R", "site P", "site R", "clone P",
                 "clone R"],
                [[r["size"], r["true_sites"], r["sites"], f"{r['grp']['precision']:.4f}", f"{r['grp']['recall']:.4f}",
                  f"{r['site']['precision']:.4f}", f"{r['site']['recall']:.4f}", f"{r['clone'][0]:.3f}",
                  f"{r['clone'][1]:.3f}"] for r in results])
    print_table("Cost (one process; wall seconds, and CPU µs per onion which a busy machine does not inflate)",
                ["onions", "signatures s", "cluster s", "total wall s", "CPU s", "CPU µs/onion",
                 "per onion vs first size", "candidate pairs", "edges", "peak RSS MB"],
                [[r["size"], f"{r['sig']:.2f}", f"{r['cluster']:.2f}", f"{r['sig'] + r['cluster']:.2f}",
                  f"{r['cpu']:.2f}", f"{per(r):.0f}", f"{per(r) / per(base):.2f}x", r["candidates"], r["edges"],
                  f"{r['peak_mb']:.0f}"] for r in results])
    print_table("Stability (cluster 90%, then 100% with the first run's ids)",
                ["onions", "earlier onions whose site id changed", "of which: their site merged into an older one"],
                [[r["size"], r["changed"], r["merged_away"]] for r in results])


if __name__ == "__main__":
    main()
