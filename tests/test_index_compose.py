"""docker-compose.yml validates with Debian's docker-compose (`config` needs no Docker engine)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

pytestmark = pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")


def compose_config(*env_file: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    args = ["docker-compose", "-f", str(COMPOSE)]
    for f in env_file:
        args += ["--env-file", str(f)]
    clean_env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}  # no secrets leak in from the caller
    return subprocess.run(args + ["config"], cwd=cwd, env=clean_env, capture_output=True, text=True, timeout=60)


def env_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_compose_config_is_valid_and_production_shaped(tmp_path: Path) -> None:
    proc = compose_config(ENV_EXAMPLE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    services = config["services"]
    assert {"elasticsearch", "tor", "index-setup", "crawler"} <= set(services)

    es = services["elasticsearch"]
    env = es["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"] == env_values(ENV_EXAMPLE)["ELASTIC_PASSWORD"]
    heap = re.fullmatch(r"-Xms(\S+) -Xmx(\S+)", env["ES_JAVA_OPTS"])
    assert heap and heap.group(1) == heap.group(2) == env_values(ENV_EXAMPLE)["ES_HEAP"]
    assert re.search(r":9\.\d+\.\d+$", es["image"])  # a pinned 9.x server for the 9.x client

    for name, svc in services.items():  # nothing published beyond the host's loopback
        for port in svc.get("ports", []):
            published = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
            assert published.startswith("127.0.0.1:"), (name, port)

    crawler = services["crawler"]["environment"]
    assert crawler["ONIONWATCH_ES_URL"] == "http://elasticsearch:9200"
    assert crawler["ONIONWATCH_ES_PASSWORD"] == env["ELASTIC_PASSWORD"]
    assert crawler["ONIONWATCH_TOR_SOCKS"] == "tor:9050"
    assert "environment" not in services["tor"]  # Tor gets no secrets
    assert services["crawler"]["depends_on"]["index-setup"]["condition"] == "service_completed_successfully"
    assert services["index-setup"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert services["index-setup"]["command"] == ["index", "migrate"]


def test_compose_refuses_to_start_without_a_password(tmp_path: Path) -> None:
    proc = compose_config(cwd=tmp_path)
    assert proc.returncode != 0 and "ELASTIC_PASSWORD" in proc.stderr


def test_no_secret_is_committed_in_the_compose_file() -> None:
    text = COMPOSE.read_text()
    for key, value in env_values(ENV_EXAMPLE).items():
        if "PASSWORD" in key or "KEY" in key:
            assert value not in text
    assert set(re.findall(r"PASSWORD: (\S+)", text)) == {"${ELASTIC_PASSWORD:?set"}  # only from .env
    assert (ROOT / "Dockerfile").read_text().count("ENTRYPOINT") == 1


def test_compose_runs_the_web_app_on_loopback(tmp_path: Path) -> None:
    proc = compose_config(ENV_EXAMPLE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    web = yaml.safe_load(proc.stdout)["services"]["web"]
    assert web["command"][:1] == ["serve"]
    assert web["environment"]["ONIONWATCH_ES_URL"] == "http://elasticsearch:9200"
    assert all(str(p.get("host_ip", p) if isinstance(p, dict) else p).startswith("127.0.0.1") for p in web["ports"])


def test_the_image_holds_every_package_the_project_installs() -> None:
    """The image installs the project from the packages it copies: one left out (journal, which
    the crawler imports) makes `onionwatch crawl` fail in the container with an ImportError."""
    import tomllib

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in include}
    copied = set(re.findall(r"^COPY (\S+)/ \1/$", (ROOT / "Dockerfile").read_text(), flags=re.M))
    assert packages <= copied, f"Dockerfile does not copy {sorted(packages - copied)}"
    assert all((ROOT / name / "__init__.py").exists() for name in packages)
    # the build's setup.py (mypyc), and a host's compiled modules kept out of the build context
    assert re.search(r"^COPY pyproject\.toml setup\.py ", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert {"enrich/*.so", "enrich/_mypyc_build.json"} <= set((ROOT / ".dockerignore").read_text().split())
