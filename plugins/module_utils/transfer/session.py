# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bounded transfer that proves MPTCP on the wire, from the standard library alone.

The client sends `size` bytes of seeded pseudo-random data, half-closes, and reads one
JSON line back from the server: the byte count and SHA-256 the server received and what
its accepted socket says about itself (SO_PROTOCOL, MPTCP_INFO). Both sides sample the
subflow count while the data flows, read the MPTcpExt counters before and after, and
collect the path manager's events of their connection. The client can take one of its
links down part way (failover) and always brings it back.

Everything is bounded: sizes, connection counts and a deadline that every blocking call
(accept, connect, send, receive) is held to; sockets, threads and the event subscription
are closed whatever happens."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import ipaddress
import json
import random
import re
import select
import socket
import struct
import threading
import time

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.link_failover import LinkFailure, validate_interface
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_counters import (
    counter_deltas,
    fallback_reason,
    negotiated_by_counters,
    read_counters,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import (
    IPPROTO_MPTCP,
    PROTOCOL_NAMES,
    PROTOCOLS,
    open_socket,
    read_mptcp_info,
    read_subflows,
    socket_protocol,
    tcp_is_mptcp,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.pm_events import EventListener, events_of

MAX_SIZE = 1 << 30
MAX_TIMEOUT = 3600
MAX_CONNECTIONS = 64
DEFAULT_SIZE = 16 << 20
DEFAULT_TIMEOUT = 60
DEFAULT_FAIL_FRACTION = 0.3
CHUNK = 1 << 16
POOL = 1 << 20
REPORT_LIMIT = 1 << 16
SAMPLE_EVERY = 0.02  # seconds between two samples of the subflows
OPEN_STATES = ("established", "fin_wait1", "fin_wait2", "close_wait")  # subflows that carry data
CONNECT_RETRY = 0.2  # seconds between connects while the server is not listening yet
LINGER = 2.0  # seconds a side waits for the other's close, and for the CLOSED event

SERVER_ONLY = ("connections",)
CLIENT_ONLY = ("size", "seed", "bind_address", "fail_interface", "fail_after_bytes", "fail_after_fraction")
_SIZE = re.compile(r"^\s*(\d+)\s*(?:([kmg])(?:i?b)?)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


# --- inputs ------------------------------------------------------------------------------

def parse_size(value):
    """A byte count: an integer, or a string like `64M`, `64MiB`, `1G` (K, M, G and their
    KiB/KB forms are all powers of 1024)."""
    if isinstance(value, bool):
        raise ValidationError("size %r is not a byte count" % (value,))
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValidationError("size %r is not a byte count (an integer, or a number with K, M or G)"
                                  % (value,))
        size = int(match.group(1)) * _UNITS[match.group(2).lower() if match.group(2) else None]
    if not 1 <= size <= MAX_SIZE:
        raise ValidationError("size %r is out of range: from 1 byte to %d (1 GiB)" % (value, MAX_SIZE))
    return size


def _ip_literal(name, value):
    try:
        return ipaddress.ip_address(u"%s" % value)
    except ValueError:
        raise ValidationError("%s %r is not an IPv4 or IPv6 address" % (name, value))


def _in_range(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError("%s %r is out of range: an integer from %d to %d" % (name, value, low, high))
    return value


def validate(params, sys_class_net=None):
    """The module's parameters -> a normalised spec, or ValidationError naming the first
    bad value. Nothing on the host is touched (a client's address may be a host name; it
    is resolved when connecting)."""
    role = params.get("role")
    if role not in ("server", "client", "probe"):
        raise ValidationError("role %r is not one of: server, client, probe" % (role,))
    protocol = params.get("protocol") or "mptcp"
    if protocol not in PROTOCOLS:
        raise ValidationError("protocol %r is not one of: mptcp, tcp" % (protocol,))
    not_for_role = {"server": CLIENT_ONLY, "client": SERVER_ONLY, "probe": CLIENT_ONLY + SERVER_ONLY}[role]
    wrong = [name for name in not_for_role if params.get(name) is not None]
    if wrong:
        raise ValidationError("%s: not for role=%s" % (", ".join(wrong), role))
    if role == "probe" and protocol != "mptcp":
        raise ValidationError("protocol %r: a probe asks whether a service answers in MPTCP, so it needs protocol=mptcp"
                              % (protocol,))
    spec = {
        "role": role,
        "protocol": protocol,
        "port": _in_range("port", params.get("port"), 1, 65535),
        "timeout": _in_range("timeout", params.get("timeout", DEFAULT_TIMEOUT), 1, MAX_TIMEOUT),
        "events": bool(params.get("events", True)),
    }
    address = params.get("address")
    if role == "server":
        spec["address"] = str(_ip_literal("address", address or "0.0.0.0"))
        spec["connections"] = _in_range("connections", params.get("connections") or 1, 1, MAX_CONNECTIONS)
        return spec
    if not address or not isinstance(address, str) or len(address) > 253 or any(c.isspace() for c in address):
        raise ValidationError("address %r is not a host name or an IP address to connect to" % (address,))
    spec["address"] = address
    if role == "probe":
        spec["bind_address"] = None
        return spec
    spec["size"] = parse_size(params.get("size") if params.get("size") is not None else DEFAULT_SIZE)
    spec["seed"] = _in_range("seed", params.get("seed") or 0, 0, 0xFFFFFFFF)
    bind_address = params.get("bind_address")
    spec["bind_address"] = str(_ip_literal("bind_address", bind_address)) if bind_address else None
    spec.update(_validate_failover(params, spec["size"], sys_class_net))
    return spec


def _validate_failover(params, size, sys_class_net):
    interface = params.get("fail_interface")
    after_bytes = params.get("fail_after_bytes")
    fraction = params.get("fail_after_fraction")
    if interface is None:
        given = [name for name, value in (("fail_after_bytes", after_bytes), ("fail_after_fraction", fraction))
                 if value is not None]
        if given:
            raise ValidationError("%s needs fail_interface (the link to take down)" % ", ".join(given))
        return {"fail_interface": None, "fail_after_bytes": None}
    if sys_class_net:
        validate_interface(interface, sys_class_net)
    else:
        validate_interface(interface)
    if after_bytes is not None and fraction is not None:
        raise ValidationError("fail_after_bytes and fail_after_fraction are mutually exclusive: give one")
    if size < 2:
        raise ValidationError("size %d is too small to fail a link part way: send at least 2 bytes" % size)
    if after_bytes is not None:
        _in_range("fail_after_bytes", after_bytes, 1, size - 1)
    else:
        if fraction is None:
            fraction = DEFAULT_FAIL_FRACTION
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise ValidationError("fail_after_fraction %r is out of range: a number between 0 and 1, "
                                  "both excluded" % (fraction,))
        after_bytes = max(1, int(size * fraction))
    return {"fail_interface": interface, "fail_after_bytes": after_bytes}


# --- data --------------------------------------------------------------------------------

def payload(size, seed, chunk=CHUNK):
    """`size` bytes of pseudo-random data from `seed`, in chunks of at most `chunk` bytes.
    Each chunk starts with the seed and its own index, so no two chunks are equal and a
    lost, doubled or reordered chunk changes the digest."""
    pool = random.Random(seed).getrandbits(POOL * 8).to_bytes(POOL, "little")
    pool += pool[:chunk]
    sent = 0
    index = 0
    while sent < size:
        offset = (index * 40503) % POOL
        block = struct.pack(">IQ", seed, index) + pool[offset:offset + chunk - 12]
        block = block[:min(chunk, size - sent)]
        sent += len(block)
        index += 1
        yield block


def mbit_per_s(count, seconds):
    return round(count * 8 / seconds / 1e6, 3) if seconds > 0 else None


class SubflowSampler:
    """The subflows of a connection over time: the most established at once, the last
    count, the fewest after a mark (a link failure), each change as [seconds since the
    first sample, count] (at most MAX_CHANGES), and the subflows themselves (`paths`).

    Established subflows are counted from MPTCP_TCPINFO (5.16+): MPTCP_INFO's count also
    includes joins still in progress, which may yet be refused. Without it, MPTCP_INFO's
    count is used. `info` is MPTCP_INFO as of the last forced sample."""

    MAX_CHANGES = 100

    def __init__(self, sock, clock):
        self._sock = sock
        self._clock = clock
        self._first_sample = None
        self._last_sample = None
        self._detailed = True
        self.changes = []
        self.info = None
        self.paths = None
        self.max = None
        self.last = None
        self.min_after_mark = None
        self._marked = False
        self._frozen = False

    def _count(self, force):
        if force or not self._detailed:
            self.info = read_mptcp_info(self._sock) or self.info
        if self._detailed:
            subflows = read_subflows(self._sock)
            if subflows is not None:
                self.paths = subflows
                return sum(1 for subflow in subflows if subflow["state"] in OPEN_STATES)
            self._detailed = False
            self.info = read_mptcp_info(self._sock) or self.info
        return self.info["subflows_count"] if self.info is not None else None

    def sample(self, force=False):
        now = self._clock()
        if not force and self._last_sample is not None and now - self._last_sample < SAMPLE_EVERY:
            return
        self._last_sample = now
        if self._first_sample is None:
            self._first_sample = now
        if self._frozen:
            self.info = read_mptcp_info(self._sock) or self.info
            return
        count = self._count(force)
        if count is None:
            return
        if count != self.last and len(self.changes) < self.MAX_CHANGES:
            self.changes.append([round(now - self._first_sample, 3), count])
        self.last = count
        self.max = count if self.max is None else max(self.max, count)
        if self._marked:
            self.min_after_mark = count if self.min_after_mark is None else min(self.min_after_mark, count)

    def mark(self):
        self._marked = True

    def freeze(self):
        """Keep the counts and paths as they are now (the data is through; what follows
        is the close)."""
        self._frozen = True


def _remaining(deadline, clock):
    remaining = deadline - clock()
    if remaining <= 0:
        raise socket.timeout("timed out")
    return remaining


def _family_of(address):
    return socket.AF_INET6 if ipaddress.ip_address(u"%s" % address).version == 6 else socket.AF_INET


def _protocol_name(number):
    return PROTOCOL_NAMES.get(number, str(number))


# --- server ------------------------------------------------------------------------------

class ServerConnection(threading.Thread):
    """One accepted connection: receive until EOF, then answer with the report."""

    def __init__(self, sock, peer, deadline, clock):
        threading.Thread.__init__(self, name="mptcp-transfer-connection")
        self.daemon = True
        self.sock = sock
        self.deadline = deadline
        self.clock = clock
        self.report = {"peer": peer[0], "peer_port": peer[1], "bytes": 0, "digest": None, "error": None}
        self.aborted = False

    def run(self):
        try:
            self._serve()
        except (OSError, ValueError, MptcpError) as exc:
            self.report["error"] = "timed out before the client finished" if isinstance(exc, socket.timeout) \
                else str(exc)
        finally:
            self.sock.close()

    def _serve(self):
        report = self.report
        sock = self.sock
        protocol = socket_protocol(sock)
        report["protocol"] = _protocol_name(protocol)
        sampler = SubflowSampler(sock, self.clock)
        sampler.sample(force=True)
        digest = hashlib.sha256()
        buf = bytearray(1 << 18)
        view = memoryview(buf)
        started = None
        while True:
            sock.settimeout(_remaining(self.deadline, self.clock))
            count = sock.recv_into(buf)
            if self.aborted:
                raise socket.timeout("timed out")
            if not count:
                break
            if started is None:
                started = self.clock()
            digest.update(view[:count])
            report["bytes"] += count
            sampler.sample()
        seconds = self.clock() - started if started is not None else 0.0
        sampler.sample(force=True)
        mptcp = tcp_is_mptcp(sock)
        if mptcp is None:
            mptcp = protocol == IPPROTO_MPTCP and sampler.info is not None and not sampler.info["fallback"]
        report.update({
            "digest": digest.hexdigest(),
            "seconds": round(seconds, 3),
            "mbit_per_s": mbit_per_s(report["bytes"], seconds),
            "mptcp": bool(mptcp),
            "subflows_max": sampler.max if sampler.max is not None else 1,
            "subflows_end": sampler.last if sampler.last is not None else 1,
            "paths": sampler.paths or [],
            "token": sampler.info["token_hex"] if sampler.info else None,
        })
        sock.settimeout(_remaining(self.deadline, self.clock))
        sock.sendall(json.dumps(report, sort_keys=True).encode("ascii") + b"\n")
        sock.shutdown(socket.SHUT_WR)
        # Let the client close first (it reads the report, then closes), within bounds.
        sock.settimeout(min(LINGER, _remaining(self.deadline, self.clock)))
        try:
            while sock.recv(4096):
                pass
        except (OSError, socket.timeout):
            pass

    def abort(self):
        """Stop at the deadline: what the connection received so far is not a transfer."""
        self.aborted = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def run_server(spec, clock=time.monotonic):
    """Listen, serve up to spec['connections'] connections, stop at the deadline whatever
    happens -> (result, failure message or None)."""
    deadline = clock() + spec["timeout"]
    listener = EventListener() if spec["events"] else None
    result = {"role": "server", "address": spec["address"], "port": spec["port"], "protocol": spec["protocol"],
              "connections": [], "timed_out": False, "events": [], "warnings": []}
    before = read_counters()
    if listener is not None and not listener.start():
        result["warnings"].append(listener.warning)
    workers = []
    lsock = None
    try:
        lsock = open_socket(_family_of(spec["address"]), PROTOCOLS[spec["protocol"]])
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lsock.bind((spec["address"], spec["port"]))
        except OSError as exc:
            raise MptcpError("cannot listen on %s port %d: %s" % (spec["address"], spec["port"], exc.strerror))
        lsock.listen(spec["connections"])
        while len(workers) < spec["connections"]:
            remaining = deadline - clock()
            if remaining <= 0:
                result["timed_out"] = True
                break
            if not select.select([lsock], [], [], min(remaining, 0.5))[0]:
                continue
            sock, peer = lsock.accept()
            worker = ServerConnection(sock, peer, deadline, clock)
            workers.append(worker)
            worker.start()
        # The listener stays open until the connections are done: the kernel looks up a
        # listener for each MP_JOIN SYN, and without one it answers RST, so the extra
        # subflows of a connection already accepted would be refused (ECONNREFUSED).
        for worker in workers:
            worker.join(max(0.0, deadline - clock()))
            if worker.is_alive():
                result["timed_out"] = True
    finally:
        if lsock is not None:
            lsock.close()
        for worker in workers:
            if worker.is_alive():
                worker.abort()
                worker.join(1)
        if listener is not None:
            events = listener.stop()
            tokens = [worker.report.get("token") for worker in workers]
            result["events"] = events_of(events, [token for token in tokens if token])
    result["connections"] = [worker.report for worker in workers]
    result["counters"] = counter_deltas(before, read_counters())
    return result, _server_failure(spec, result)


def _server_failure(spec, result):
    done = [report for report in result["connections"] if not report["error"]]
    if len(done) == spec["connections"]:
        return None
    errors = ["%s: %s" % (report["peer"], report["error"]) for report in result["connections"] if report["error"]]
    return "served %d of %d connection(s) on %s port %d within %d s%s" % (
        len(done), spec["connections"], spec["address"], spec["port"], spec["timeout"],
        (": " + "; ".join(errors)) if errors else " (no client came)" if not result["connections"] else "")


# --- client ------------------------------------------------------------------------------

def _resolve(address, port, bind_address):
    family = _family_of(bind_address) if bind_address else socket.AF_UNSPEC
    try:
        found = socket.getaddrinfo(address, port, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise MptcpError("cannot resolve address %r: %s" % (address, exc.strerror))
    return found[0][0], found[0][4]


def _connect(spec, deadline, clock):
    """Connect, retrying while the server is not listening yet (its task may start a
    moment after ours) -> (socket, counters read just before the connect that worked)."""
    family, sockaddr = _resolve(spec["address"], spec["port"], spec["bind_address"])
    while True:
        sock = open_socket(family, PROTOCOLS[spec["protocol"]])
        try:
            if spec["bind_address"]:
                sock.bind((spec["bind_address"], 0))
            before = read_counters()
            sock.settimeout(_remaining(deadline, clock))
            sock.connect(sockaddr)
            return sock, before
        except socket.timeout:
            sock.close()
            raise MptcpError("cannot connect to %s port %d within %d s"
                             % (spec["address"], spec["port"], spec["timeout"]))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.ECONNREFUSED and deadline - clock() > CONNECT_RETRY:
                time.sleep(CONNECT_RETRY)
                continue
            raise MptcpError("cannot connect to %s port %d%s: %s" % (
                spec["address"], spec["port"],
                " from %s" % spec["bind_address"] if spec["bind_address"] else "", exc.strerror or exc))


def _read_report(sock, deadline, clock):
    data = b""
    while b"\n" not in data and len(data) < REPORT_LIMIT:
        sock.settimeout(_remaining(deadline, clock))
        more = sock.recv(REPORT_LIMIT - len(data))
        if not more:
            break
        data += more
    try:
        report = json.loads(data.split(b"\n", 1)[0].decode("ascii"))
    except ValueError:
        raise MptcpError("the server's report is not JSON (%d bytes): is the other side "
                         "mptcp.linux.mptcp_transfer with role=server?" % len(data))
    if not isinstance(report, dict) or "digest" not in report:
        raise MptcpError("the server's report has no digest: %r" % (report,))
    return report


def _negotiation(spec, sock, sampler, deltas):
    """(mptcp used, how that was decided)."""
    if spec["protocol"] == "tcp":
        return False, "protocol"
    by_option = tcp_is_mptcp(sock)
    if by_option is not None:
        return by_option, "TCP_IS_MPTCP"
    if sampler.info is not None:
        return not sampler.info["fallback"], "MPTCP_INFO"
    by_counters = negotiated_by_counters(deltas, "client")
    return bool(by_counters), "counters"


class _Deadline:
    def __init__(self, seconds, clock):
        self.clock = clock
        self.start = clock()
        self.at = self.start + seconds

    def since_start(self):
        return round(self.clock() - self.start, 3)


def run_client(spec, run=None, clock=time.monotonic):
    """Connect, send, half-close, read the server's report -> (result, failure message or
    None). `run(argv) -> (rc, stdout, stderr)` runs `ip` for a failover."""
    deadline = _Deadline(spec["timeout"], clock)
    result = {"role": "client", "address": spec["address"], "port": spec["port"], "protocol": spec["protocol"],
              "size": spec["size"], "seed": spec["seed"], "bytes": 0, "digest": None, "seconds": None,
              "mbit_per_s": None, "checksum_matched": False, "server": None, "mptcp": False,
              "negotiated_by": None, "fallback": False, "fallback_reason": None, "token": None,
              "subflows_max": 0, "subflows_end": 0, "subflows_changes": [], "paths": [], "counters": {}, "events": [], "failover": None,
              "warnings": []}
    listener = EventListener() if spec["events"] else None
    if listener is not None and not listener.start():
        result["warnings"].append(listener.warning)
    failure = LinkFailure(run, spec["fail_interface"]) if spec["fail_interface"] else None
    sock = None
    sampler = None
    before = None
    message = None
    try:
        sock, before = _connect(spec, deadline.at, clock)
        local = sock.getsockname()
        result["local_address"], result["local_port"] = local[0], local[1]
        sampler = SubflowSampler(sock, clock)
        sampler.sample(force=True)
        message = _send(spec, sock, sampler, failure, result, deadline)
    except (MptcpError, OSError) as exc:
        if isinstance(exc, socket.timeout):
            message = "the transfer did not finish within %d s (%d of %d bytes sent)" % (
                spec["timeout"], result["bytes"], spec["size"])
        else:
            message = str(exc)
    finally:
        if failure is not None:
            message = _restore(failure, result, message)
        if sock is not None:
            _finish(spec, sock, sampler, before, result)
            sock.close()
        if listener is not None:
            token = result.get("token")
            if token:
                listener.wait_for(lambda event: event["type"] == "closed" and event.get("token") == token, LINGER)
            events = listener.stop()
            result["events"] = events_of(events, [token] if token else [])
    return result, message


def run_probe(spec, clock=time.monotonic):
    """Connect over MPTCP and close at once -> (result, failure message or None): does the
    service listening on that port (any service: nothing is sent) answer in MPTCP?"""
    deadline = _Deadline(spec["timeout"], clock)
    result = {"role": "probe", "address": spec["address"], "port": spec["port"], "protocol": "mptcp",
              "mptcp": False, "negotiated_by": None, "fallback": False, "fallback_reason": None,
              "counters": {}, "warnings": []}
    try:
        sock, before = _connect(spec, deadline.at, clock)
    except (MptcpError, OSError) as exc:
        return result, str(exc)
    try:
        # The SYN-ACK has arrived when connect() returns: the counters have moved already.
        deltas = counter_deltas(before, read_counters())
        mptcp, decided_by = tcp_is_mptcp(sock), "TCP_IS_MPTCP"
        if mptcp is None:
            mptcp, decided_by = bool(negotiated_by_counters(deltas, "client")), "counters"
    finally:
        sock.close()
    result.update({"mptcp": bool(mptcp), "negotiated_by": decided_by, "fallback": not mptcp, "counters": deltas})
    if not mptcp:
        result["fallback_reason"] = fallback_reason(deltas) or (
            "the connection fell back to TCP and no MPTCP fallback counter moved")
    return result, None


def _send(spec, sock, sampler, failure, result, deadline):
    digest = hashlib.sha256()
    started = deadline.clock()
    fail_at = spec["fail_after_bytes"]
    for block in payload(spec["size"], spec["seed"]):
        digest.update(block)
        pieces = [block]
        if failure is not None and result["bytes"] < fail_at < result["bytes"] + len(block):
            cut = fail_at - result["bytes"]
            pieces = [block[:cut], block[cut:]]
        for piece in pieces:
            if failure is not None and not failure.failed and result["bytes"] >= fail_at:
                _fail_link(failure, sampler, result, deadline)
            sock.settimeout(_remaining(deadline.at, deadline.clock))
            sock.sendall(piece)
            result["bytes"] += len(piece)
            sampler.sample()
    sampler.sample(force=True)
    sampler.freeze()
    result["subflows_end"] = sampler.last if sampler.last is not None else 1
    result["paths"] = sampler.paths or []
    sock.shutdown(socket.SHUT_WR)
    report = _read_report(sock, deadline.at, deadline.clock)
    seconds = deadline.clock() - started
    result.update({
        "digest": digest.hexdigest(),
        "seconds": round(seconds, 3),
        "mbit_per_s": mbit_per_s(result["bytes"], seconds),
        "server": report,
        "checksum_matched": report.get("digest") == digest.hexdigest() and report.get("bytes") == result["bytes"],
    })
    if failure is not None:
        result["failover"]["completed"] = True
        result["failover"]["seconds_after_failure"] = round(deadline.clock() - result["failover"]["at_monotonic"], 3)
    if not result["checksum_matched"]:
        return "the server received %s bytes with SHA-256 %s; the client sent %d bytes with SHA-256 %s" % (
            report.get("bytes"), report.get("digest"), result["bytes"], digest.hexdigest())
    return None


def _fail_link(failure, sampler, result, deadline):
    sampler.sample(force=True)
    local = result.get("local_address")
    failure.fail()
    sampler.mark()
    result["failover"] = {
        "interface": failure.interface,
        "after_bytes": result["bytes"],
        "at_seconds": deadline.since_start(),
        "at_monotonic": deadline.clock(),
        "subflows_before": sampler.last,
        "initial_subflow": local in failure.local_addresses,
        "completed": False,
    }


def _restore(failure, result, message):
    """Bring the failed link back whatever happened; a restore failure is reported, and
    never hides the transfer's own failure."""
    try:
        failure.restore()
    except MptcpError as exc:
        failure.report.update({"restored": False, "restore_error": str(exc)})
        message = (message + "; " if message else "") + "the link %s could not be restored: %s" % (
            failure.interface, exc)
    if result["failover"] is not None:
        result["failover"].pop("at_monotonic", None)
        for key in ("restored", "restore_error", "addresses_readded", "routes_restored"):
            if key in failure.report:
                result["failover"][key] = failure.report[key]
    return message


def _finish(spec, sock, sampler, before, result):
    """What the connection says about itself at the end, and the counters' deltas."""
    if sampler is not None:
        try:
            sampler.sample(force=True)
        except OSError:
            pass
    deltas = counter_deltas(before, read_counters()) if before is not None else {}
    try:
        mptcp, decided_by = _negotiation(spec, sock, sampler, deltas) if sampler is not None else (False, "none")
    except OSError:
        mptcp, decided_by = bool(negotiated_by_counters(deltas, "client")), "counters"
    info = sampler.info if sampler is not None else None
    result.update({
        "mptcp": bool(mptcp),
        "negotiated_by": decided_by,
        "fallback": spec["protocol"] == "mptcp" and not mptcp,
        "fallback_reason": None,
        "token": info["token_hex"] if info else None,
        "subflows_max": sampler.max if sampler is not None and sampler.max is not None else (1 if sampler else 0),
        "subflows_changes": sampler.changes if sampler is not None else [],
        "counters": deltas,
    })
    if not result["subflows_end"] and sampler is not None:
        result["subflows_end"] = sampler.last if sampler.last is not None else 1
    if result["failover"] is not None and sampler is not None:
        result["failover"]["subflows_min_after"] = sampler.min_after_mark
    if result["fallback"]:
        result["fallback_reason"] = fallback_reason(deltas) or (
            "the connection fell back to TCP and no MPTCP fallback counter moved")


def ensure(params, check_mode, host):
    """What mptcp_transfer does: validate, then serve, send or probe (nothing in check
    mode). A transfer that went wrong fails with its message and its whole result."""
    spec = validate(params)
    if check_mode:
        return dict(changed=False, role=spec["role"], msg="check mode: nothing was sent or listened on")
    if spec["role"] == "server":
        result, failure = run_server(spec)
    elif spec["role"] == "probe":
        result, failure = run_probe(spec)
    else:
        result, failure = run_client(spec, run=host.run_bytes)
    if failure:
        raise MptcpError(failure, changed=False, **result)
    return dict(changed=False, **result)
