"""The audit trail in the web app: admins read it (/audit, /audit.json) and export it (/audit.jsonl).

Also the web's own audited actions: downloading a raw snapshot hands over a page body with
any personal data in clear, so every such download is appended to the audit log (who, which
page, which SHA-256).
"""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
)

bp = Blueprint("audit", __name__)
PAGE = 200
SNAPSHOT_ENDPOINTS = {"pages.page_snapshot", "api.page_snapshot"}


def audit_log() -> Any:
    return current_app.extensions["onionwatch"].get("audit")


def is_admin() -> bool:
    user = getattr(g, "user", None)
    return bool(user) and current_app.extensions["onionwatch"]["tokens"].is_admin(user)


@bp.app_context_processor
def admin_flag() -> dict[str, Any]:
    return {"is_admin": is_admin()}


def _entries(from_seq: int) -> tuple[list[Any], Any]:
    log = audit_log()
    if log is None:
        abort(404, "no audit log is configured")
    if not is_admin():
        abort(403, "the audit trail is for administrators")
    entries = []
    for e in log.entries(max(1, from_seq)):
        entries.append(e)
        if len(entries) >= PAGE:
            break
    return entries, log


def _from_seq() -> int:
    try:
        return int(request.args.get("from") or 1)
    except ValueError:
        abort(400, "from must be a number")


@bp.route("/audit")
def audit_page() -> Any:
    entries, log = _entries(_from_seq())
    problem = log.verify()
    return render_template("audit.html", entries=entries, problem=problem, page=PAGE,
                           next_seq=(entries[-1].seq + 1) if len(entries) == PAGE else None)


@bp.route("/audit.json")
def audit_api() -> Any:
    entries, log = _entries(_from_seq())
    problem = log.verify()
    return jsonify(entries=[e.as_dict() for e in entries], chain_intact=problem is None,
                   problem=str(problem) if problem else None,
                   next=(entries[-1].seq + 1) if len(entries) == PAGE else None)


@bp.route("/audit.jsonl")
def audit_export() -> Response:
    """The whole chain as JSON lines (what `onionwatch evidence audit --export` writes)."""
    log = audit_log()
    if log is None:
        abort(404, "no audit log is configured")
    if not is_admin():
        abort(403, "the audit trail is for administrators")
    from journal import canonical

    entries = list(log.entries())
    log.record("audit_export", who=g.user, what={"via": "web"}, results=len(entries))
    body = b"".join(canonical(e.as_dict()) + b"\n" for e in entries)
    resp = Response(body, mimetype="application/x-ndjson")
    resp.headers["Content-Disposition"] = 'attachment; filename="onionwatch-audit.jsonl"'
    return resp


@bp.after_app_request
def audit_snapshot_downloads(resp: Response) -> Response:
    """A raw page leaves the system: record who took which one."""
    if request.endpoint in SNAPSHOT_ENDPOINTS and resp.status_code == 200 and audit_log() is not None:
        audit_log().record("snapshot_download", who=getattr(g, "user", None) or "?", results=1,
                           what={"page": (request.view_args or {}).get("doc_id"),
                                 "sha256": resp.headers.get("X-Snapshot-SHA256"), "via": request.endpoint})
    return resp


def describe(entry: Any) -> str:
    return json.dumps(entry.payload.get("what"), ensure_ascii=False, sort_keys=True)[:300]
