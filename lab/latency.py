"""Per-site latency for the lab (off by default): real onions answer in seconds, not
milliseconds. ``Latency(0.5, 3.0)`` gives each site a fixed delay drawn from [lo, hi]
(seeded by the site's name, so a run is reproducible) that every response waits before it
is sent. Also conditional requests: a lab page answers If-None-Match with a 304 when its
ETag (its body's hash) matches, as many real sites do."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Latency:
    lo: float
    hi: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.lo <= self.hi:
            raise ValueError(f"latency range must be 0 <= lo <= hi, not {self.lo}..{self.hi}")

    @classmethod
    def parse(cls, value: object) -> Latency | None:
        """``None``/``0``/"" (off), "0.5-3", [0.5, 3], or {"lo", "hi", "seed"}."""
        if not value:
            return None
        if isinstance(value, dict):
            return cls(float(value["lo"]), float(value["hi"]), int(value.get("seed", 0)))
        if isinstance(value, str):
            lo, _, hi = value.partition("-")
            return cls(float(lo), float(hi or lo))
        lo, hi = value  # type: ignore[misc]
        return cls(float(lo), float(hi))

    def of(self, site: str) -> float:
        """The delay of every response of ``site``, in seconds."""
        return random.Random(f"{self.seed}/{site}").uniform(self.lo, self.hi)

    def to_json(self) -> dict:
        return {"lo": self.lo, "hi": self.hi, "seed": self.seed}


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """True when the client's If-None-Match names this ETag (or is ``*``)."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return tag in tags or "*" in tags
