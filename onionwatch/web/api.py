"""JSON API under /api: the same data as the pages, for scripts. Bearer token required
(checked in app.authenticate) except for the OpenAPI description."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, jsonify, request

from onionwatch.web import records, sources, views
from onionwatch.web.views import backend

bp = Blueprint("api", __name__)
OPENAPI_FILE = Path(__file__).with_name("openapi.yaml")


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return yaml.safe_load(OPENAPI_FILE.read_text())


@bp.route("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.route("/search")
def search() -> Response:
    params = records.SearchParams.from_args(request.args)
    return jsonify(records.search(backend(), params))


@bp.route("/pages/<doc_id>")
def page(doc_id: str) -> Response:
    return jsonify(views.page_or_404(doc_id))


@bp.route("/pages/<doc_id>/snapshot")
def page_snapshot(doc_id: str) -> Response:
    return views.snapshot_response(doc_id)


@bp.route("/services")
def services() -> Response:
    return jsonify({"services": records.services(backend(), request.args.get("category") or None)})


@bp.route("/services/<onion>")
def service(onion: str) -> Response:
    return jsonify(views.service_or_404(onion))


@bp.route("/stats")
def stats() -> Response:
    args, data = views.stats_data()
    return jsonify(dict(data, params=args, overview=records.overview(backend())))


@bp.route("/stats/onions")
def stats_onions() -> Response:
    """The contract of `onionwatch stats onions --format json`: {unit, interval, rows, tor_metrics, caption, ...}."""
    _, data = views.stats_data()
    return jsonify(data)


@bp.route("/alerts")
def alerts() -> Response:
    b = backend()
    return jsonify(sources.alerts_overview(b.es, b.names, b.alert_config))
