"""Runs Debian's MediaWiki as a lab onion's wiki (standard library only; not part of `lab`).

`lab.apps` starts it as ``python mediawiki_lab.py --config app.json``. Once per lab directory
it runs MediaWiki's own installer (maintenance/install.php: SQLite, the wiki's server set to
its onion address, a random admin password nobody keeps), appends the lab's settings to the
LocalSettings.php it wrote (no mail, no uploads, no InstantCommons, no pingback) and imports
the seeded pages with maintenance/importTextFiles.php. Then it becomes PHP's built-in server
on 127.0.0.1, whose request lines ("[200]: GET /index.php/Main_Page") are the app's request
log. MediaWiki finds its settings through MW_CONFIG_FILE, so Debian's own
/var/lib/mediawiki is never touched.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path


def php_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def install(cfg: dict, data: Path, settings: Path) -> None:
    mw = Path(cfg["install_dir"])
    (data / "db").mkdir(parents=True, exist_ok=True)
    subprocess.run(["php", str(mw / "maintenance" / "install.php"), "--dbtype=sqlite", f"--dbpath={data / 'db'}",
                    "--dbname=wiki", f"--server=http://{cfg['onion']}", "--scriptpath=", "--lang=en",
                    f"--pass=lab-{secrets.token_hex(12)}", f"--confpath={data}", cfg.get("site_name", "Wiki"), "Admin"],
                   check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    extra = ["", "# onionwatch lab: loopback only, nothing sent anywhere"]
    extra += [f"${k} = {php_value(v)};" for k, v in (cfg.get("local_settings") or {}).items()]
    extra += ["$wgGroupPermissions['*']['edit'] = false;", "$wgGroupPermissions['*']['createaccount'] = false;", ""]
    with settings.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(extra))


def seed(cfg: dict, data: Path, settings: Path) -> int:
    pages = cfg.get("pages") or {}
    src = data / "seed"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir()
    files = []
    # the main page last: a link to a page that does not exist yet is saved red (an edit link)
    for title, text in sorted(pages.items(), key=lambda kv: kv[0] == "Main_Page"):
        path = src / f"{title}.txt"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    if files:
        subprocess.run(["php", str(Path(cfg["install_dir"]) / "maintenance" / "importTextFiles.php"),
                        f"--conf={settings}", "--overwrite", "--rc", "--summary=lab seed", *files],
                       check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        subprocess.run(["php", str(Path(cfg["install_dir"]) / "maintenance" / "runJobs.php"), f"--conf={settings}"],
                       check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)  # link tables, caches
    return len(files)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, type=Path)
    cfg = json.loads(ap.parse_args().config.read_text(encoding="utf-8"))
    data = Path(cfg["request_log"]).parent
    settings = data / "LocalSettings.php"
    if not settings.exists():
        install(cfg, data, settings)
    added = seed(cfg, data, settings)
    print(json.dumps({"listening": f"127.0.0.1:{cfg['port']}", "seeded": added}), flush=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MW_CONFIG_FILE": str(settings), "LANG": "C.UTF-8",
           "PHP_CLI_SERVER_WORKERS": str(cfg.get("workers", 4))}
    log = os.open(cfg["request_log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 2)  # the built-in server logs each request on stderr
    php = shutil.which("php") or "/usr/bin/php"
    sys.stdout.flush()
    os.execve(php, [php, "-S", f"127.0.0.1:{cfg['port']}", "-t", cfg["install_dir"]], env)


if __name__ == "__main__":
    main()
