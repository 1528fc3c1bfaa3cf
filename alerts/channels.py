"""Where alerts go: a webhook (JSON POST), email (SMTP, JSON attached), a JSON Lines file,
or stdout; and how a channel is shown without its secrets.

A payload carries masked entities only, never clear PII or PII hashes. Webhook URLs may
hold tokens or user:password, so logs, summaries and the web app show `redact_channel`.
"""

from __future__ import annotations

import html
import json
import re
import smtplib
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from tenacity import Retrying, stop_after_attempt, wait_exponential

from alerts.rules import AlertConfigError

_MARK_RE = re.compile(r"</?mark>")


def plain_text(p: dict[str, Any]) -> str:
    """The alert as an email body: the payload's fields, the snippet without markup."""
    entities = ", ".join(f"{e['label']} {e['masked']}" for e in p["entities"]) or "none"
    snippet = html.unescape(_MARK_RE.sub("", p["snippet"]))
    return (f"Rule: {p['rule']}\nOnion: {p['onion']}\nURL: {p['url']}\nCategories: {', '.join(p['categories'])}\n"
            f"Entities (masked): {entities}\nEvidence sha256: {p['evidence_sha256']}\nFetched: {p['fetched_at']}\n\n"
            f"{snippet}\n")


def _retrying(send: Callable[[], None], attempts: int, backoff: float) -> None:
    """`send`, tried `attempts` times with exponential back-off; the last error is raised."""
    for attempt in Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=backoff),
                            reraise=True):
        with attempt:
            send()


@dataclass
class Deliverer:
    """Sends one payload to one channel spec; raises on failure (after its own retries)."""

    smtp: dict[str, Any]
    attempts: int = 3
    backoff: float = 0.5
    timeout: float = 10.0
    stdout: Any = None

    def send(self, spec: str, p: dict[str, Any]) -> None:
        kind, _, target = spec.partition(":")
        if kind == "webhook":
            def post() -> None:
                resp = requests.post(target, json=p, timeout=self.timeout, allow_redirects=False,
                                     headers={"User-Agent": "onionwatch-alerts"})
                if not 200 <= resp.status_code < 300:
                    raise RuntimeError(f"webhook answered HTTP {resp.status_code}")
            _retrying(post, self.attempts, self.backoff)
        elif kind == "email":
            _retrying(lambda: self._email(target, p), self.attempts, self.backoff)
        elif kind == "jsonl":
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(p, ensure_ascii=False) + "\n")
        elif kind == "stdout":
            out = self.stdout or sys.stdout
            out.write(json.dumps(p, ensure_ascii=False) + "\n")
            out.flush()
        else:
            raise AlertConfigError(f"unknown channel {spec!r}")

    def _email(self, to: str, p: dict[str, Any]) -> None:
        msg = EmailMessage()
        msg["From"] = self.smtp.get("from", "onionwatch@localhost")
        msg["To"] = to
        msg["Subject"] = f"[onionwatch] {p['rule']}: {p['onion']}"
        msg.set_content(plain_text(p))
        msg.add_attachment(json.dumps(p, ensure_ascii=False, indent=2).encode(), maintype="application",
                           subtype="json", filename="alert.json")
        with smtplib.SMTP(self.smtp.get("host", "127.0.0.1"), int(self.smtp.get("port", 25)),
                          timeout=float(self.smtp.get("timeout", 20))) as smtp:
            if self.smtp.get("starttls"):
                smtp.starttls()
            if self.smtp.get("username"):
                smtp.login(self.smtp["username"], self.smtp.get("password") or "")
            smtp.send_message(msg)


def redact_channel(spec: str) -> str:
    """A channel as logged or shown: kind and host only (webhook URLs may carry tokens or
    user:password, which a netloc would still include)."""
    kind, _, target = spec.partition(":")
    if kind == "webhook":
        return f"webhook:{urlsplit(target).hostname or '?'}"
    return spec


def error_text(exc: Exception) -> str:
    """Why a delivery failed, without echoing URLs (requests puts the full URL, token and
    all, into its messages)."""
    if isinstance(exc, requests.RequestException):
        return type(exc).__name__
    return f"{type(exc).__name__}: {str(exc)[:200]}"
