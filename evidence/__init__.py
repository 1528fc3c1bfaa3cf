"""Evidence for courts and partners: WARC bundles with a manifest and a hash-chained capture
log, offline screenshots, verification, STIX 2.1 / MISP export, and the audit trail.

Works on what the caller hands it (stored page records, verified raw bodies, a journal);
reads nothing from Elasticsearch itself.
"""

from evidence.audit import AuditLog
from evidence.bundle import BundleError, Capture, Options, Result, build, verify

__all__ = ["AuditLog", "BundleError", "Capture", "Options", "Result", "build", "verify"]
