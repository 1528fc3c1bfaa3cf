"""The Flask application: authentication, security headers, error pages.

Everything is read-only. Every response carries a Content-Security-Policy without any
script source, so even a string that escaped escaping could not run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from elasticsearch import ApiError, TransportError
from flask import Flask, Response, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from onionwatch.web.records import Backend, BadRequest
from onionwatch.web.tokens import TokenStore

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
PUBLIC_ENDPOINTS = {"auth.login", "static", "api.openapi"}
SESSION_HOURS = 12


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _same_origin_post() -> bool:
    """Reject cross-site form posts (login CSRF, forced logout)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or urlsplit(origin).netloc == request.host


def create_app(backend: Backend, tokens: TokenStore, secret_key: bytes, *, secure_cookie: bool = False,
               audit: Any = None) -> Flask:
    """The app over one backend. ``secure_cookie`` for deployments behind HTTPS; ``audit`` an
    evidence.AuditLog (admins read it at /audit; raw snapshot downloads are recorded in it)."""
    from onionwatch.web import api, auth, listing_views, views
    from onionwatch.web import audit as audit_views

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="onionwatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure_cookie,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        MAX_CONTENT_LENGTH=16 * 1024,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep documents in their own order
    app.jinja_env.autoescape = True  # every template, whatever its extension
    app.extensions["onionwatch"] = {"backend": backend, "tokens": tokens, "audit": audit}
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(listing_views.bp)  # listing search, vendor and identifier pages
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(audit_views.bp)

    @app.before_request
    def authenticate() -> Any:
        g.user = None
        if request.method == "POST" and not _same_origin_post():
            return _error(403, "cross-site request refused")
        bearer = _bearer()
        if bearer is not None:
            g.user = tokens.verify(bearer)
        elif not _is_api() and session.get("token"):
            g.user = tokens.name_for_digest(session["token"])
            if g.user is None:
                session.clear()  # token revoked: the session ends with it
        if g.user is not None or request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if _is_api() or bearer is not None:
            resp = jsonify(error="missing or invalid bearer token")
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = 'Bearer realm="onionwatch"'
            return resp
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))

    @app.after_request
    def security_headers(resp: Response) -> Response:
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if request.endpoint != "static":
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest) -> Any:
        return _error(400, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(TransportError)
    @app.errorhandler(ApiError)
    def es_error(exc: Exception) -> Any:
        app.logger.warning("Elasticsearch error: %s", type(exc).__name__)
        return _error(503, "the index is not reachable right now")

    return app


def _error(status: int, message: str) -> Any:
    if _is_api():
        resp = jsonify(error=message)
        resp.status_code = status
        return resp
    return render_template("error.html", status=status, message=message), status
