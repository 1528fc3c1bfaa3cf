"""Login with an API token (form → session cookie) and logout."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from onionwatch.web.tokens import TokenStore, token_digest

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//`` or ``\\`` tricks)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return url_for("pages.search")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    nxt = safe_next(request.values.get("next"))
    if request.method == "POST":
        token = (request.form.get("token") or "").strip()
        tokens: TokenStore = current_app.extensions["onionwatch"]["tokens"]
        name = tokens.verify(token)
        if name is not None:
            session.clear()
            session["token"] = token_digest(token)  # the digest, never the token itself
            session.permanent = True
            return redirect(nxt)
        error = "That token is not valid."
    status = 401 if error else 200
    return render_template("login.html", error=error, next=nxt), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    g.user = None
    return redirect(url_for("auth.login"))
