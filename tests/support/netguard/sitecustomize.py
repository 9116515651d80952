"""Loopback only: refuse, and record, every connection or name lookup that would leave 127.0.0.1.

The test suite runs on machines where only loopback addresses may be contacted, so every test
process (pytest itself, and each subprocess it starts: the CLI, emulator workers, pool workers)
installs this guard. ``tests/conftest.py`` installs it in pytest's own process and puts this
folder first on ``PYTHONPATH``, so Python imports this file as ``sitecustomize`` at the start of
every subprocess (``TUNESTATS_NET_GUARD=1`` switches it on there).

What is refused:
- ``connect``/``connect_ex``/``sendto`` of an IPv4 or IPv6 socket to anything but 127.0.0.0/8 or
  ``::1`` (a ``ConnectionRefusedError`` naming the address);
- a name lookup (``getaddrinfo``, ``gethostbyname``...) of a name other than ``localhost`` (a
  ``socket.gaierror``): the lookup itself would ask a DNS server. Address literals pass (no
  lookup); the connection to one is what is refused. A reverse lookup (``gethostbyaddr``) of
  anything but loopback is refused too.

Each refusal is also appended to the file ``TUNESTATS_NET_LOG`` names, one line per refusal, so
a refusal that the code under test catches and survives (google-auth's metadata probe does)
still fails the test: conftest reads the file after each test. ``TUNESTATS_NET_EXPECT`` lists
host names whose lookup a test refuses on purpose (to see how tunestats words "no DNS"): those
are refused in the same way, but not recorded.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _hosts_file_loopback_names(path: str = "/etc/hosts") -> set[str]:
    """Names that /etc/hosts maps to a loopback address (this machine's own name, often):
    looking them up reads that file, and asks no DNS server."""
    names: set[str] = set()
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) < 2:
                    continue
                try:
                    loopback = ipaddress.ip_address(fields[0].split("%", 1)[0]).is_loopback
                except ValueError:
                    continue
                if loopback:
                    names.update(name.lower() for name in fields[1:])
    except OSError:
        pass
    return names


_LOCAL_NAMES |= _hosts_file_loopback_names()
_INSTALLED = "_tunestats_net_guard"


def _is_loopback(host: object) -> bool:
    if host is None:
        return True  # a passive lookup (bind to any), never a DNS query
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().rstrip(".").lower()
    if name in _LOCAL_NAMES or name == "":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _asks_dns(host: object) -> bool:
    """Whether looking ``host`` up would ask a DNS server (an address literal never does)."""
    if _is_loopback(host):
        return False
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return True
    return False


def record(what: str) -> None:
    path = os.environ.get("TUNESTATS_NET_LOG")
    if not path:
        return
    line = f"{os.getpid()} {what}\n".encode("utf-8", "replace")
    try:  # one write of a short line in append mode: whole even with many processes
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass


def _expected(host: object) -> bool:
    names = os.environ.get("TUNESTATS_NET_EXPECT", "")
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and host.lower() in {
        n.strip().lower() for n in names.split(",") if n.strip()
    }


def _refuse_lookup(host: object) -> socket.gaierror:
    if not _expected(host):
        record(f"name lookup of {host!r}")
    return socket.gaierror(
        socket.EAI_NONAME, f"test guard: name lookup of {host!r} refused (loopback only)"
    )


def _check_address(sock: socket.socket, address: object, call: str) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # Unix sockets, netlink...: nothing leaves the machine
    host = address[0] if isinstance(address, tuple) and address else address
    if _is_loopback(host) and host is not None:
        return
    record(f"{call} to {address!r}")
    raise ConnectionRefusedError(
        errno.ECONNREFUSED, f"test guard: {call} to {address!r} refused (loopback only)"
    )


def install() -> None:
    """Patch the socket module of this process (once)."""
    if getattr(socket, _INSTALLED, False):
        return
    setattr(socket, _INSTALLED, True)
    cls = socket.socket
    connect, connect_ex, sendto = cls.connect, cls.connect_ex, cls.sendto

    def guarded_connect(self, address):  # type: ignore[no-untyped-def]
        _check_address(self, address, "connect")
        return connect(self, address)

    def guarded_connect_ex(self, address):  # type: ignore[no-untyped-def]
        _check_address(self, address, "connect")
        return connect_ex(self, address)

    def guarded_sendto(self, data, *args):  # type: ignore[no-untyped-def]
        if args:
            _check_address(self, args[-1], "sendto")
        return sendto(self, data, *args)

    cls.connect = guarded_connect  # type: ignore[method-assign]
    cls.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    cls.sendto = guarded_sendto  # type: ignore[method-assign]

    getaddrinfo = socket.getaddrinfo
    gethostbyname = socket.gethostbyname
    gethostbyname_ex = socket.gethostbyname_ex
    gethostbyaddr = socket.gethostbyaddr

    def guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if _asks_dns(host):
            raise _refuse_lookup(host)
        return getaddrinfo(host, *args, **kwargs)

    def guarded_gethostbyname(host):  # type: ignore[no-untyped-def]
        if _asks_dns(host):
            raise _refuse_lookup(host)
        return gethostbyname(host)

    def guarded_gethostbyname_ex(host):  # type: ignore[no-untyped-def]
        if _asks_dns(host):
            raise _refuse_lookup(host)
        return gethostbyname_ex(host)

    def guarded_gethostbyaddr(host):  # type: ignore[no-untyped-def]
        if not _is_loopback(host):
            raise _refuse_lookup(host)
        return gethostbyaddr(host)

    socket.getaddrinfo = guarded_getaddrinfo
    socket.gethostbyname = guarded_gethostbyname
    socket.gethostbyname_ex = guarded_gethostbyname_ex
    socket.gethostbyaddr = guarded_gethostbyaddr


if os.environ.get("TUNESTATS_NET_GUARD") == "1":
    install()
