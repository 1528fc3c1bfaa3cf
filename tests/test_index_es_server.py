"""The embedded server, honestly: its port survives restarts and crashes (a client that
outlives a restart reaches the new server), its files are private, a migration copies
everything into another cluster, and commands warn as the page count nears its limit."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

import index
from index import Names, PageWriter
from index.client import connect
from index.transfer import TransferError, copy_all
from onionwatch import es_server
from onionwatch.commands.index_cmd import es_group
from procs import pid_alive
from tests.fixtures_es import drop_prefix, onion, page_record

pytestmark = pytest.mark.slow  # every test here starts a noida-db of its own


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def wait_persisted(data_dir: Path, timeout: float = 10.0) -> None:
    """noida-db writes its data file about 0.5 s after a write."""
    deadline = time.monotonic() + timeout
    while not (data_dir / "elasticsearch.json").exists():
        assert time.monotonic() < deadline, "noida-db never wrote its data file"
        time.sleep(0.2)
    time.sleep(1.0)


def test_port_survives_stop_and_crash_and_clients_reach_the_new_server(tmp_path: Path) -> None:
    data = tmp_path / "es"
    first = es_server.start(data)
    names = Names(f"p{uuid.uuid4().hex[:8]}")
    es = connect(first.url)  # a crawl's client: made once, kept across the restarts
    writer = PageWriter(es, names, snapshot_key=b"k")
    try:
        assert writer.store([page_record(f"http://{onion(1)}/a", "before")]) == [None]
        assert es_server.stop(data)
        assert es_server.recorded_port(data) == first.port
        second = es_server.start(data)
        assert second.port == first.port and second.pid != first.pid

        time.sleep(1.5)  # let noida persist, then kill it without warning
        os.kill(second.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(second.pid):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert es_server.status(data) is None
        third = es_server.start(data)
        assert third.port == first.port and third.pid != second.pid

        assert writer.store([page_record(f"http://{onion(1)}/b", "after")]) == [None]
        writer.refresh()
        assert index.counts(es, names)["pages"] == 2
    finally:
        es.close()
        es_server.stop(data)


def test_data_dir_and_files_are_private_even_when_an_older_install_left_them_open(tmp_path: Path) -> None:
    data = tmp_path / "es"
    data.mkdir(mode=0o755)
    (data / "server.log").write_text("old log\n")
    os.chmod(data / "server.log", 0o644)
    os.chmod(data, 0o755)
    server = es_server.start(data)
    try:
        es = connect(server.url)
        es.index(index="secrets", document={"card": "4111 1111 1111 1111"})
        wait_persisted(data)
        assert mode(data) == 0o700
        files = {p.name: mode(p) for p in data.iterdir() if p.is_file()}
        assert {"server.json", "server.log", "elasticsearch.json", "noida.control.json"} <= set(files)
        assert set(files.values()) == {0o600}, files
        es.close()
    finally:
        es_server.stop(data)
    assert mode(data / "server.json") == 0o600 and json.loads((data / "server.json").read_text())["pid"] == 0


def test_a_recorded_port_taken_by_another_program_is_replaced_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "es"
    port = es_server.start(data).port
    es_server.stop(data)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the old server's TIME_WAIT
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        server = es_server.start(data)
        assert server.port != port and es_server.recorded_port(data) == server.port
        assert f"port {port} recorded for the local Elasticsearch server is in use" in capsys.readouterr().err
    finally:
        squatter.close()
        es_server.stop(data)


def test_es_up_moves_to_an_explicit_port_and_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from procs import free_ports

    monkeypatch.delenv("ONIONWATCH_ES_URL", raising=False)
    monkeypatch.setenv("ONIONWATCH_HOME", str(tmp_path))
    wanted = free_ports(1)[0]
    runner = CliRunner()
    try:
        assert f"127.0.0.1:{wanted}" in runner.invoke(es_group, ["up", "--port", str(wanted)]).output
        assert "Stopped." in runner.invoke(es_group, ["down"]).output
        down = runner.invoke(es_group, ["status"])
        assert down.exit_code == 1 and f"port {wanted} again" in down.output
        assert f"127.0.0.1:{wanted}" in runner.invoke(es_group, ["up"]).output
        up = runner.invoke(es_group, ["status"])
        assert up.exit_code == 0 and "Pages: 0 of the embedded server's limit" in up.output
    finally:
        es_server.stop()


def _seed(es: Elasticsearch, names: Names) -> int:
    w = PageWriter(es, names, snapshot_key=b"k" * 32)
    records = [page_record(f"http://{onion(i % 3)}/{i}", f"pangolin scales lot {i}", categories=["wildlife"],
                           fetched_at=f"2026-{10 + i % 2}-0{1 + i % 5}T00:00:00Z") for i in range(30)]
    assert w.store(records) == [None] * 30
    w.close()
    w.refresh()
    index.write_checks(es, names, [{"run_id": "r1", "onion": onion(1), "checked_at": "2026-11-02T00:00:00Z",
                                    "status": "up"}])
    return len(records)


def test_migrate_copies_everything_to_another_server_verified_by_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src, dst = es_server.start(src_dir), es_server.start(dst_dir)
    names = Names(f"m{uuid.uuid4().hex[:8]}")
    try:
        source, target = connect(src.url), connect(dst.url)
        pages = _seed(source, names)
        source.indices.create(index="someone-else", aliases={"someone-else-alias": {}})  # another prefix
        monkeypatch.setenv("ONIONWATCH_ES_URL", src.url)
        monkeypatch.setenv("ONIONWATCH_INDEX_PREFIX", names.prefix)
        result = CliRunner().invoke(es_group, ["migrate", "--to", dst.url])
        assert result.exit_code == 0, result.output
        assert "Verified" in result.output and f"export ONIONWATCH_ES_URL={dst.url}" in result.output

        src_indices = source.indices.get(index=f"{names.prefix}-*").body
        dst_indices = target.indices.get(index=f"{names.prefix}-*").body
        assert set(dst_indices) == set(src_indices) and not target.indices.exists(index="someone-else")
        for name, spec in src_indices.items():
            assert dst_indices[name]["aliases"] == spec["aliases"], name  # is_write_index included
            assert dst_indices[name]["mappings"] == spec["mappings"], name
            assert target.count(index=name)["count"] == source.count(index=name)["count"], name
        assert dst_indices[f"{names.prefix}-services-v1"]["aliases"][names.services] == {"is_write_index": True}
        get_t = lambda es: {t["name"]: t["index_template"] for t in
                            es.indices.get_index_template(name=f"{names.prefix}-*")["index_templates"]}
        assert get_t(target) == get_t(source)
        comps = target.cluster.get_component_template(name=f"{names.prefix}-*")["component_templates"]
        assert {c["name"] for c in comps} == {f"{names.prefix}-analysis-v1"}

        # the copy works as an installation: search, services, snapshots, and the writer goes on
        assert index.counts(target, names)["pages"] == pages
        assert index.search(target, names, "pangolin")["total"] == pages
        assert index.get_service(target, names, onion(1))["page_count"] == 10
        w = PageWriter(target, names, snapshot_key=b"k" * 32)
        again = page_record(f"http://{onion(1)}/1", "pangolin scales lot 1", categories=["wildlife"],
                            fetched_at="2026-12-01T00:00:00Z")
        assert w.store([again]) == [None]
        w.refresh()
        assert index.counts(target, names)["pages"] == pages  # the registry came along: no duplicate
        assert index.get_snapshot(target, names, again["sha256"], b"k" * 32) == again["raw"]

        # a second run is idempotent; a target holding more than the source fails verification
        assert copy_all(source, target, prefix=names.prefix).ok
        target.index(index=f"{names.prefix}-checks-v1-2026.11", id="extra", refresh=True,
                     document={"run_id": "x", "onion": onion(9), "checked_at": "2026-11-03T00:00:00Z", "status": "up"})
        with pytest.raises(TransferError, match="checks"):
            copy_all(source, target, prefix=names.prefix)
        source.close()
        target.close()
    finally:
        es_server.stop(src_dir)
        es_server.stop(dst_dir)


def test_commands_warn_when_the_embedded_server_nears_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from onionwatch.commands.search import search_cmd

    monkeypatch.delenv("ONIONWATCH_ES_URL", raising=False)
    monkeypatch.setenv("ONIONWATCH_HOME", str(tmp_path))
    names = Names(f"c{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("ONIONWATCH_INDEX_PREFIX", names.prefix)
    monkeypatch.setattr(es_server, "EMBEDDED_PAGE_LIMIT", 10)
    try:
        es = connect(es_server.start().url)
        assert "warning" not in capsys.readouterr().err
        w = PageWriter(es, names, snapshot_key=b"k")
        for i in range(7):
            w.write(page_record(f"http://{onion(5)}/{i}", f"page {i}"))
        assert w.flush().ok
        es_server._capacity_cache.clear()
        assert es_server.capacity_note() is None  # 7 of 10: below 80 %
        w.write(page_record(f"http://{onion(5)}/8", "page 8"))
        assert w.flush().ok
        es_server._capacity_cache.clear()
        es_server.start()  # what `onionwatch crawl` calls
        err = capsys.readouterr().err
        assert "warning: the embedded Elasticsearch server holds 8 pages, near its limit of about 10" in err
        assert "onionwatch es migrate --to URL" in err
        es_server._capacity_cache.clear()
        result = CliRunner().invoke(search_cmd, ["page", "--json"])
        assert result.exit_code == 0
        assert json.loads(result.stdout)["total"] == 8  # stdout stays clean JSON
        assert "near its limit" in capsys.readouterr().err + (result.stderr if result.stderr_bytes else "")
        # the web app shows it on every page, escaped, to signed-in users only
        from onionwatch.web import Backend, TokenStore, create_app

        tokens = TokenStore(tmp_path / "tokens.json")
        token = tokens.create("analyst")
        app = create_app(Backend(es=es, names=names, snapshot_key=lambda: b"k",
                                 capacity_note=lambda: es_server.capacity_note(es, names)), tokens, b"s" * 32)
        web = app.test_client()
        assert "capacity-note" not in web.get("/login").get_data(as_text=True)
        web.post("/login", data={"token": token, "next": "/search"})
        for path in ("/search", "/services", "/stats"):
            page = web.get(path).get_data(as_text=True)
            assert 'id="capacity-note"' in page and "holds 8 pages, near its limit of about 10" in page, path
        monkeypatch.setenv("ONIONWATCH_ES_URL", es_server.status().url)  # a configured cluster: no warning
        assert es_server.capacity_note() is None
        assert "capacity-note" not in web.get("/search").get_data(as_text=True)
        es.close()
    finally:
        drop_prefix(connect(es_server.status().url), names.prefix) if es_server.status() else None
        es_server.stop()
