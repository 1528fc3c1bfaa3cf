"""Runs pinnwand (the PyPI pastebin) as a lab onion's web server, in pinnwand's own venv.

Not part of the `lab` package: `lab.apps` starts it as
``<venv>/bin/python pinnwand_lab.py --config app.json`` and imports nothing from it. It sets
pinnwand's configuration from the config (SQLite file in the lab directory, limits), creates
the tables, inserts the seeded pastes once (slugs chosen by lab.apps, so other lab apps can link
to them before this server starts), serves on 127.0.0.1 only and writes tornado's access log
(method, path, status) to the app's request log. Prints one JSON line once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import signal
from pathlib import Path


def configure(cfg: dict) -> None:
    """pinnwand's configuration module, set before anything reads it (as its CLI does from a
    TOML file); extra reStructuredText pages (``pages``) go beside pinnwand's own in page_path."""
    import shutil

    from pinnwand import configuration

    for key, value in (cfg.get("settings") or {}).items():
        setattr(configuration, key, value)
    configuration.database_uri = f"sqlite:///{cfg['database']}"
    if cfg.get("pages"):
        pages = Path(cfg["database"]).parent / "pages"
        pages.mkdir(exist_ok=True)
        for own in (Path(configuration.__file__).parent / "page").glob("*.rst"):
            shutil.copy(own, pages / own.name)
        for name, text in cfg["pages"].items():
            (pages / f"{name}.rst").write_text(text, encoding="utf-8")
        configuration.page_path = str(pages)


def seed(pastes: list[dict]) -> int:
    """Insert the pastes that are not there yet (a restarted lab keeps its database)."""
    from pinnwand import database

    database.Base.metadata.create_all(database._engine)
    added = 0
    with database.session() as session:
        for item in pastes:
            if session.query(database.Paste).filter(database.Paste.slug == item["slug"]).first():
                continue
            paste = database.Paste(item["slug"], expiry=int(item.get("expiry", 10 * 365 * 86400)),
                                   src=item.get("src", "web"))
            paste.files.append(database.File(item["file_slug"], item["raw"], lexer=item.get("lexer", "text"),
                                             filename=item.get("filename")))
            if item.get("posted"):
                paste.pub_date = datetime.datetime.fromisoformat(str(item["posted"]))
            session.add(paste)
            added += 1
        session.commit()
    return added


def access_log(path: Path) -> None:
    """Tornado's request log ("200 GET /path (ip) 1.2ms") into the app's request log file."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log = logging.getLogger("tornado.access")
    log.setLevel("INFO")
    log.addHandler(handler)
    log.propagate = False


async def serve(cfg: dict, added: int) -> None:
    from pinnwand.http import make_application

    app = make_application(debug=False)
    server = app.listen(int(cfg["port"]), address="127.0.0.1", xheaders=False)
    print(json.dumps({"listening": f"127.0.0.1:{cfg['port']}", "seeded": added}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, type=Path)
    cfg = json.loads(ap.parse_args().config.read_text(encoding="utf-8"))
    logging.basicConfig(level="WARNING")
    configure(cfg)
    added = seed(cfg.get("pastes") or [])
    access_log(Path(cfg["request_log"]))
    asyncio.run(serve(cfg, added))


if __name__ == "__main__":
    main()
