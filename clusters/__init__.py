"""Near-duplicate clustering of onion services into sites (mirrors) and clones.

A library: takes what the index knows about each onion (text, title, structural hashes,
identifier sets, first seen) and the previous run's site ids, returns each onion's site,
role and evidence. Imports nothing of ours; the caller persists the ids.
"""

from clusters.cluster import (
                              CLONE,
                              MIRROR,
                              Doc,
                              Member,
                              Params,
                              Result,
                              Site,
                              cluster,
                              new_site_id,
                              pairwise_scores,
                              signatures,
)
from clusters.features import (
                              favicon_hash,
                              normalise_title,
                              shingle_hashes,
                              template_hash,
                              tokens,
)

__all__ = [
    "CLONE", "MIRROR", "Doc", "Member", "Params", "Result", "Site", "cluster", "favicon_hash", "new_site_id",
    "normalise_title", "pairwise_scores", "shingle_hashes", "signatures", "template_hash", "tokens",
]
