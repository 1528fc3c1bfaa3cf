"""HTML pages. Templates are autoescaped; crawled URLs are shown as text, never as links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

import index
from onionwatch import chart, counts
from onionwatch.web import records, sources
from onionwatch.web.records import Backend, BadRequest

bp = Blueprint("pages", __name__)


def backend() -> Backend:
    return current_app.extensions["onionwatch"]["backend"]


def page_or_404(doc_id: str) -> dict[str, Any]:
    rec = records.page_record(backend(), doc_id)
    if rec is None:
        abort(404, "no such page")
    return rec


def service_or_404(onion: str) -> dict[str, Any]:
    rec = records.service_record(backend(), onion)
    if rec is None:
        abort(404, "no such onion service")
    return rec


def snapshot_response(doc_id: str) -> Response:
    """The raw page body as an attachment browsers will not render or sniff."""
    try:
        found = records.snapshot(backend(), doc_id)
    except index.SnapshotError:
        abort(404, "the snapshot of this page is not available")
    if found is None:
        abort(404, "no such page")
    sha, raw = found
    resp = Response(raw, mimetype="application/octet-stream")
    resp.headers["Content-Disposition"] = f'attachment; filename="snapshot-{sha}.bin"'
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Snapshot-SHA256"] = sha
    return resp


@bp.app_context_processor
def common() -> dict[str, Any]:
    user = getattr(g, "user", None)
    return {"user": user, "categories": records.CATEGORIES, "capacity_note": backend().capacity_note() if user else None}


@bp.route("/")
def home() -> Any:
    return redirect(url_for("pages.search"))


@bp.route("/search")
def search() -> Any:
    error = None
    result = None
    try:
        params = records.SearchParams.from_args(request.args)
        result = records.search(backend(), params)
    except BadRequest as exc:
        params = records.SearchParams()
        error = str(exc)
    return render_template(
        "search.html", p=params, result=result, error=error, sorts=records.SORTS,
        entity_labels=backend().entity_labels, snippet=records.safe_snippet, page_sizes=records.PAGE_SIZES,
    ), (400 if error else 200)


@bp.route("/page/<doc_id>")
def page(doc_id: str) -> Any:
    return render_template("page.html", r=page_or_404(doc_id))


@bp.route("/page/<doc_id>/snapshot")
def page_snapshot(doc_id: str) -> Response:
    return snapshot_response(doc_id)


@bp.route("/services")
def services() -> Any:
    category = request.args.get("category") or None
    return render_template("services.html", services=records.services(backend(), category), category=category,
                           overview=records.overview(backend()))


@bp.route("/service/<onion>")
def service(onion: str) -> Any:
    return render_template("service.html", r=service_or_404(onion))


def stats_args() -> dict[str, Any]:
    """Validated stats parameters from the query string (shared by the page, exports and API)."""
    interval = request.args.get("interval", "day")
    if interval not in sources.INTERVALS:
        raise BadRequest(f"interval must be one of {', '.join(sources.INTERVALS)}")
    unit = request.args.get("unit") or "addresses"
    if unit not in counts.UNITS:
        raise BadRequest(f"unit must be one of {', '.join(counts.UNITS)}")
    by = request.args.get("by") or None
    if by is not None and by not in counts.BY:
        raise BadRequest(f"by must be one of {', '.join(counts.BY)}")
    return {"interval": interval, "since": records.parse_date(request.args.get("since"), "since"),
            "until": records.parse_date(request.args.get("until"), "until"), "by": by, "unit": unit}


def stats_data() -> tuple[dict[str, Any], dict[str, Any]]:
    args = stats_args()
    b = backend()
    return args, sources.stats_series(b.es, b.names, **args)


@bp.route("/stats")
def stats() -> Any:
    args, data = stats_data()
    svg = chart.counts_svg(data) if data["rows"] else None
    columns = [c for c in counts.COLUMNS if any(c in r for r in data["rows"]) and (c != "category" or args["by"])]
    return render_template("stats.html", args=args, data=data, svg=svg, overview=records.overview(backend()),
                           intervals=sources.INTERVALS, units=counts.UNITS, columns=columns)


def _export_name(args: dict[str, Any], ext: str) -> str:
    return f"onion-{args['unit']}-{args['interval']}{'-by-' + args['by'] if args['by'] else ''}.{ext}"


@bp.route("/stats.csv")
def stats_csv() -> Response:
    args, data = stats_data()
    resp = Response(sources.stats_csv(data), mimetype="text/csv")
    resp.headers["Content-Disposition"] = f'attachment; filename="{_export_name(args, "csv")}"'
    return resp


@bp.route("/stats.svg")
def stats_svg() -> Response:
    _, data = stats_data()
    return Response(str(chart.counts_svg(data)), mimetype="image/svg+xml")


@bp.route("/stats.png")
def stats_png() -> Response:
    import tempfile

    args, data = stats_data()
    with tempfile.NamedTemporaryFile(suffix=".png") as fh:
        chart.counts_png(data, fh.name)
        body = Path(fh.name).read_bytes()
    resp = Response(body, mimetype="image/png")
    resp.headers["Content-Disposition"] = f'inline; filename="{_export_name(args, "png")}"'
    return resp


@bp.route("/alerts")
def alerts() -> Any:
    b = backend()
    return render_template("alerts.html", data=sources.alerts_overview(b.es, b.names, b.alert_config))
