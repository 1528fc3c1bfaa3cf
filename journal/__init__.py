"""A durable, append-only, hash-chained journal: what was captured, in order, provably.

One job: append entries (fsynced before ``append`` returns), read them back from any seq,
verify the chain, and keep per-consumer "done up to seq N" markers for replay. Imports
nothing else of onionwatch; callers decide what goes in a payload (never clear personal data).
"""

from journal.chain import (
    GENESIS,
    Break,
    canonical,
    entry_hash,
    payload_digest,
    redact,
    verify_entries,
)
from journal.log import Entry, Journal, JournalError, utc_now, write_atomic

__all__ = ["GENESIS", "Break", "Entry", "Journal", "JournalError", "canonical", "entry_hash", "payload_digest",
           "redact", "utc_now", "verify_entries", "write_atomic"]
