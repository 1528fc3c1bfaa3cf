"""Background processes we start (tor, the lab site server, the local Elasticsearch) and
the loopback ports they listen on."""

from __future__ import annotations

import os
import socket


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; an exited child is reaped, a zombie counts as dead."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # reap it if it is our exited child
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass
    try:  # an exited process nobody reaped yet (state Z) is dead too
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def free_ports(n: int) -> list[int]:
    """Ports the kernel hands out as free right now (held until all are chosen)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports
