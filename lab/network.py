"""A private Tor network on 127.0.0.1, in the style of chutney.

Three directory authorities (keys from tor-gencert), two non-exit relays, N clients
(SocksPort with ExtendedErrors + IsolateSOCKSAuth, ControlPort) and one onion-service
node that hosts every lab onion as a detached ephemeral v3 service (keys kept on disk,
so addresses are stable across restarts and one service can be taken down alone).

Start is staggered: authorities and relays first, clients and the service node only
once an authority's consensus lists every relay — starting all at once misses the
first vote and costs 30-60 s.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from procs import free_ports, pid_alive


def _program(name: str) -> str:
    """A tor executable on $PATH (looked up when used, not at import), else Debian's path."""
    return shutil.which(name) or f"/usr/bin/{name}"


COMMON = """\
TestingTorNetwork 1
DataDirectory {datadir}
Nickname {nick}
Log notice file {datadir}/notice.log
SafeLogging 1
ShutdownWaitLength 0
AssumeReachable 1
PathsNeededToBuildCircuits 0.67
ClientUseIPv6 0
ConnLimit 60
DisableDebuggerAttachment 0
V3AuthVotingInterval 10
V3AuthVoteDelay 2
V3AuthDistDelay 2
TestingV3AuthInitialVotingInterval 10
TestingV3AuthInitialVoteDelay 2
TestingV3AuthInitialDistDelay 2
TestingV3AuthVotingStartOffset 0
TestingDirAuthVoteHSDir *
TestingDirAuthVoteGuard *
TestingMinExitFlagThreshold 0
{dirauths}
"""

RELAY = """\
Address 127.0.0.1
ORPort 127.0.0.1:{orport}
DirPort 127.0.0.1:{dirport}
ExitRelay 0
ExitPolicy reject *:*
SocksPort 0
"""

AUTHORITY = """\
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
ContactInfo lab@onionwatch.invalid
""" + RELAY

# Clients and the service node build every circuit on loopback: Tor's adaptive circuit-build
# timeout learns a few milliseconds there, and a burst of builds (hundreds of HSFETCHes or
# SOCKS connections to dead onions, on 2 shared cores) then "times out" circuits that were
# merely queued, resets the timeout and rebuilds them — the lab's bulk descriptor lookups
# collapsed that way (100 dead at 64 in flight: 303 s, 12 unknown). A fixed timeout instead.
FIXED_CBT = """\
LearnCircuitBuildTimeout 0
CircuitBuildTimeout {cbt}
"""

CLIENT = """\
SocksPort 127.0.0.1:{socksport} ExtendedErrors IsolateSOCKSAuth
ControlPort 127.0.0.1:{controlport}
CookieAuthentication 1
""" + FIXED_CBT

SERVICE_NODE = """\
SocksPort 0
ControlPort 127.0.0.1:{controlport}
CookieAuthentication 1
""" + FIXED_CBT

CIRCUIT_BUILD_TIMEOUT = 30  # seconds; a loopback circuit that takes longer is really stuck


@dataclass
class Node:
    nick: str
    kind: str  # authority | relay | client | service
    orport: int = 0
    dirport: int = 0
    socksport: int = 0
    controlport: int = 0
    pid: int = 0
    fingerprint: str = ""
    v3ident: str = ""


@dataclass
class NetworkState:
    root: str
    nodes: list[Node] = field(default_factory=list)
    onions: dict[str, str] = field(default_factory=dict)  # name -> "<addr>.onion"
    targets: dict[str, int] = field(default_factory=dict)  # name -> local port
    withdrawn: list[str] = field(default_factory=list)  # names taken off the network by unpublish()
    started_at: float = 0.0
    ready_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "NetworkState":
        data = json.loads(text)
        data["nodes"] = [Node(**n) for n in data["nodes"]]
        return cls(**data)

    def by_kind(self, kind: str) -> list[Node]:
        return [n for n in self.nodes if n.kind == kind]


class TorNetwork:
    """Owns the tor processes of one lab directory."""

    def __init__(self, root: Path, relays: int = 2, clients: int = 1) -> None:
        self.root = Path(root)
        self.n_relays = relays
        self.n_clients = clients
        self.state_file = self.root / "network.json"
        self._lock = threading.Lock()  # publish() runs in parallel threads
        self.state = (
            NetworkState.from_json(self.state_file.read_text())
            if self.state_file.exists()
            else NetworkState(root=str(self.root))
        )

    # -- set-up -----------------------------------------------------------------
    def _datadir(self, node: Node) -> Path:
        return self.root / node.nick

    def _configure(self) -> None:
        """Fresh keys, ports and torrc files for every node (the onion keys are kept)."""
        n_ports = 3 * 2 + self.n_relays * 2 + self.n_clients * 2 + 1
        ports = iter(free_ports(n_ports))
        nodes = [Node(f"auth{i}", "authority", next(ports), next(ports)) for i in range(3)]
        nodes += [Node(f"relay{i}", "relay", next(ports), next(ports)) for i in range(self.n_relays)]
        nodes += [
            Node(f"client{i}", "client", socksport=next(ports), controlport=next(ports))
            for i in range(self.n_clients)
        ]
        nodes.append(Node("service0", "service", controlport=next(ports)))
        for node in nodes:
            d = self._datadir(node)
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
            d.chmod(0o700)
        for node in nodes:
            if node.kind == "authority":
                self._make_authority_keys(node)
        dirauths = "\n".join(
            f"DirAuthority {n.nick} orport={n.orport} no-v2 v3ident={n.v3ident} "
            f"127.0.0.1:{n.dirport} {n.fingerprint}"
            for n in nodes
            if n.kind == "authority"
        )
        for node in nodes:
            body = COMMON.format(datadir=self._datadir(node), nick=node.nick, dirauths=dirauths)
            role = {"authority": AUTHORITY, "relay": RELAY, "client": CLIENT, "service": SERVICE_NODE}
            body += role[node.kind].format(**asdict(node), cbt=CIRCUIT_BUILD_TIMEOUT)
            (self._datadir(node) / "torrc").write_text(body)
        self.state.nodes = nodes

    def _make_authority_keys(self, node: Node) -> None:
        d = self._datadir(node)
        keys = d / "keys"
        keys.mkdir()
        subprocess.run(
            [
                _program("tor-gencert"), "--create-identity-key", "--passphrase-fd", "0",
                "-i", str(keys / "authority_identity_key"),
                "-s", str(keys / "authority_signing_key"),
                "-c", str(keys / "authority_certificate"),
                "-m", "12", "-a", f"127.0.0.1:{node.dirport}",
            ],
            input=b"\n", check=True, capture_output=True, cwd=d,
        )
        cert = (keys / "authority_certificate").read_text()
        node.v3ident = next(
            line.split()[1] for line in cert.splitlines() if line.startswith("fingerprint ")
        )
        (d / "empty-torrc").write_text("")
        subprocess.run(
            [
                _program("tor"), "--defaults-torrc", os.devnull, "-f", str(d / "empty-torrc"),
                "--list-fingerprint", "--DataDirectory", str(d), "--Nickname", node.nick,
                "--ORPort", "1", "--Log", "err stderr",
                "--DirServer", "xyzzy 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff",
            ],
            check=True, capture_output=True, text=True,
        )
        node.fingerprint = (d / "fingerprint").read_text().split()[1]

    # -- processes --------------------------------------------------------------
    def _spawn(self, node: Node) -> None:
        d = self._datadir(node)
        log = open(d / "stdout.log", "ab")
        proc = subprocess.Popen(
            [_program("tor"), "--defaults-torrc", os.devnull, "-f", str(d / "torrc")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        node.pid = proc.pid

    def _consensus_lists(self, nicks: set[str]) -> bool:
        for auth in self.state.by_kind("authority"):
            for name in ("cached-microdesc-consensus", "cached-consensus"):
                path = self._datadir(auth) / name
                if path.exists():
                    text = path.read_text(errors="replace")
                    found = {line.split()[1] for line in text.splitlines() if line.startswith("r ")}
                    if nicks <= found:
                        return True
        return False

    def start(self, timeout: float = 180.0) -> None:
        """Start every tor process; returns once clients have bootstrapped."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._configure()
        self.state.started_at = time.time()
        routers = [n for n in self.state.nodes if n.kind in ("authority", "relay")]
        for node in routers:
            self._spawn(node)
        self._save()
        deadline = time.time() + timeout
        while not self._consensus_lists({n.nick for n in routers}):
            self._check_alive(routers)
            if time.time() > deadline:
                raise TimeoutError("no consensus listing every relay; see notice.log files in " + str(self.root))
            time.sleep(0.5)
        late = [n for n in self.state.nodes if n.kind in ("client", "service")]
        for node in late:
            self._spawn(node)
        self._save()
        for node in late:
            self._wait_bootstrapped(node, deadline)

    def _check_alive(self, nodes: list[Node]) -> None:
        for node in nodes:
            if not pid_alive(node.pid):
                tail = (self._datadir(node) / "notice.log")
                msg = tail.read_text()[-2000:] if tail.exists() else ""
                raise RuntimeError(f"tor node {node.nick} exited:\n{msg}")

    def controller(self, node: Node):
        from stem.control import Controller

        deadline = time.time() + 30
        while True:
            try:
                c = Controller.from_port(address="127.0.0.1", port=node.controlport)
                c.authenticate()
                return c
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def _wait_bootstrapped(self, node: Node, deadline: float) -> None:
        with self.controller(node) as c:
            while True:
                phase = c.get_info("status/bootstrap-phase", "")
                if "PROGRESS=100" in phase:
                    return
                self._check_alive([node])
                if time.time() > deadline:
                    raise TimeoutError(f"{node.nick} did not bootstrap: {phase}")
                time.sleep(0.3)

    # -- onion services ---------------------------------------------------------
    def _key_file(self, name: str) -> Path:
        return self.root / "onion-keys" / f"{name}.key"

    def publish(self, name: str, target_port: int, timeout: float = 90.0) -> str:
        """Host `name` as a v3 onion on the service node; waits for the descriptor upload."""
        keyfile = self._key_file(name)
        keyfile.parent.mkdir(parents=True, exist_ok=True)
        service = self.state.by_kind("service")[0]
        with self.controller(service) as c:
            if keyfile.exists():
                key_type, key_content = keyfile.read_text().strip().split(":", 1)
            else:
                key_type, key_content = "NEW", "ED25519-V3"
            resp = c.create_ephemeral_hidden_service(
                {80: f"127.0.0.1:{target_port}"},
                key_type=key_type, key_content=key_content,
                detached=True, await_publication=True, timeout=timeout,
            )
            if key_type == "NEW":
                keyfile.write_text(f"{resp.private_key_type}:{resp.private_key}")
                keyfile.chmod(0o600)
        onion = f"{resp.service_id}.onion"
        with self._lock:
            self.state.onions[name] = onion
            self.state.targets[name] = target_port
            if name in self.state.withdrawn:
                self.state.withdrawn.remove(name)
            self._save()
        return onion

    def unpublish(self, name: str) -> None:
        """Take one onion down (for liveness tests): its descriptor stops being served."""
        service = self.state.by_kind("service")[0]
        onion = self.state.onions[name]
        with self.controller(service) as c:
            c.remove_ephemeral_hidden_service(onion.removesuffix(".onion"))
        with self._lock:
            if name not in self.state.withdrawn:
                self.state.withdrawn.append(name)
            self._save()

    # -- status / stop ----------------------------------------------------------
    def clients(self) -> list[Node]:
        return self.state.by_kind("client")

    def running(self) -> bool:
        return bool(self.state.nodes) and all(pid_alive(n.pid) for n in self.state.nodes)

    def stop(self) -> None:
        for node in self.state.nodes:
            if node.pid and pid_alive(node.pid):
                try:
                    os.killpg(node.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 10
        for node in self.state.nodes:
            while node.pid and pid_alive(node.pid) and time.time() < deadline:
                time.sleep(0.1)
            if node.pid and pid_alive(node.pid):
                os.killpg(node.pid, signal.SIGKILL)
            node.pid = 0
        self._save()

    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(self.state.to_json())
        tmp.replace(self.state_file)  # atomic: a reader never sees half a file
