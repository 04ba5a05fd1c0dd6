# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transfer's client side and the probe: connect, send, take a link down part way where
asked (and always bring it back), half-close and read the server's report; or connect over
MPTCP and close at once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import hashlib
import json
import socket
import time

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.link_failover import (
    AddressRemoval,
    LinkFailure,
    NetworkManagerDisconnect,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.local_interfaces import interfaces_by_address
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_counters import (
    counter_deltas,
    fallback_reason,
    negotiated_by_counters,
    read_counters,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import (
    PROTOCOLS,
    open_socket,
    tcp_is_mptcp,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.bounded_series import SAMPLE_INTERVAL
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.path_return import PathReturn
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.pm_events import EventListener, events_of
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.stream import (
    LINGER,
    SubflowSampler,
    family_of,
    mbit_per_s,
    payload,
    remaining,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.subflow_series import SubflowSeries

REPORT_LIMIT = 1 << 20  # the server's report, with its sampled series
# How rejoin_away takes a path away (fail_interface alone: the link down to the end).
TAKE_AWAY = {"address": AddressRemoval, "link": LinkFailure, "networkmanager": NetworkManagerDisconnect}
CONNECT_RETRY = 0.2  # seconds between connects while the server is not listening yet


def _resolve(address, port, bind_address):
    family = family_of(bind_address) if bind_address else socket.AF_UNSPEC
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
            sock.settimeout(remaining(deadline, clock))
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


def _read_report(sock, deadline, clock, sampler=None):
    """The server's one-line JSON report. While it has not come, the data still drains
    from the send buffer: the subflows' counters go on being sampled."""
    data = b""
    while b"\n" not in data and len(data) < REPORT_LIMIT:
        sock.settimeout(min(SAMPLE_INTERVAL, remaining(deadline, clock)) if sampler is not None
                        else remaining(deadline, clock))
        try:
            more = sock.recv(REPORT_LIMIT - len(data))
        except socket.timeout:
            if sampler is None:
                raise
            remaining(deadline, clock)
            sampler.sample(force=True)
            continue
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


class _RunState:
    """What the client keeps for itself while it runs, never in its result: the clock
    reading when the link went down (for seconds_after_failure), and the interfaces of
    the local addresses as they were before (a link taken down loses its IPv6 ones), the
    PathReturn of a path taken away and given back (rejoin_away)."""

    def __init__(self):
        self.failed_at = None
        self.interfaces = {}
        self.path_return = None


def run_client(spec, run=None, clock=time.monotonic, diagnose=None):
    """Connect, send, half-close, read the server's report -> (result, failure message or
    None). `run(argv) -> (rc, stdout, stderr)` runs `ip` for a failover. `diagnose(result)
    -> dict` says, after an MPTCP transfer, why joins did or did not form (joins)."""
    deadline = _Deadline(spec["timeout"], clock)
    result = {"role": "client", "address": spec["address"], "port": spec["port"], "protocol": spec["protocol"],
              "size": spec["size"], "seed": spec["seed"], "bytes": 0, "digest": None, "seconds": None,
              "mbit_per_s": None, "checksum_matched": False, "server": None, "mptcp": False,
              "negotiated_by": None, "fallback": False, "fallback_reason": None, "token": None,
              "subflows_max": 0, "subflows_end": 0, "subflows_changes": [], "paths": [], "subflow_stats": [],
              "subflow_samples": None, "counters": {}, "events": [], "failover": None, "rejoin": None, "joins": None, "warnings": []}
    listener = EventListener() if spec["events"] else None
    if listener is not None and not listener.start():
        result["warnings"].append(listener.warning)
    failure = None
    if spec["fail_interface"]:
        failure = TAKE_AWAY.get(spec.get("rejoin_away"), LinkFailure)(run, spec["fail_interface"])
    state = _RunState()
    sock = None
    sampler = None
    before = None
    message = None
    try:
        sock, before = _connect(spec, deadline.at, clock)
        local = sock.getsockname()
        result["local_address"], result["local_port"] = local[0], local[1]
        state.interfaces = interfaces_by_address()
        sampler = SubflowSampler(sock, clock, SubflowSeries(deadline.start, "bytes_acked"))
        sampler.sample(force=True)
        message = _send(spec, sock, sampler, failure, result, deadline, state)
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
        if sampler is not None:
            interfaces = interfaces_by_address()
            interfaces.update(state.interfaces)
            result["subflow_stats"], result["subflow_samples"] = sampler.series.report(interfaces, result["events"])
        if diagnose is not None and result["mptcp"]:
            result["joins"] = diagnose(result)
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


def _send(spec, sock, sampler, failure, result, deadline, state):
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
            if failure is not None and state.failed_at is None and result["bytes"] >= fail_at:
                if spec.get("rejoin_away"):
                    state.path_return = _rejoin(spec, failure, sampler, result, deadline, state)
                else:
                    _fail_link(failure, sampler, result, deadline, state)
            sock.settimeout(remaining(deadline.at, deadline.clock))
            sock.sendall(piece)
            result["bytes"] += len(piece)
            sampler.sample()
            if state.path_return is not None:
                state.path_return.step()
    if state.path_return is not None:
        state.path_return.finish(deadline.at)
    sampler.sample(force=True)
    sampler.freeze()
    result["subflows_end"] = sampler.last if sampler.last is not None else 1
    result["paths"] = sampler.paths or []
    sock.shutdown(socket.SHUT_WR)
    report = _read_report(sock, deadline.at, deadline.clock, sampler)
    seconds = deadline.clock() - started
    result.update({
        "digest": digest.hexdigest(),
        "seconds": round(seconds, 3),
        "mbit_per_s": mbit_per_s(result["bytes"], seconds),
        "server": report,
        "checksum_matched": report.get("digest") == digest.hexdigest() and report.get("bytes") == result["bytes"],
    })
    if result["failover"] is not None:
        result["failover"]["completed"] = True
        result["failover"]["seconds_after_failure"] = round(deadline.clock() - state.failed_at, 3)
        # The receiver's longest stretch without new bytes: the failover's stall.
        timeline = report.get("receive_timeline") or {}
        result["failover"]["gap_ms"] = timeline.get("longest_gap_ms")
        result["failover"]["gap_after_bytes"] = timeline.get("longest_gap_after_bytes")
    if not result["checksum_matched"]:
        return "the server received %s bytes with SHA-256 %s; the client sent %d bytes with SHA-256 %s" % (
            report.get("bytes"), report.get("digest"), result["bytes"], digest.hexdigest())
    return None


def _fail_link(failure, sampler, result, deadline, state):
    sampler.sample(force=True)
    local = result.get("local_address")
    failure.fail()
    sampler.mark()
    result["failover"] = {
        "interface": failure.interface,
        "after_bytes": result["bytes"],
        "at_seconds": deadline.since_start(),
        "subflows_before": sampler.last,
        "initial_subflow": local in failure.local_addresses,
        "completed": False,
    }
    state.failed_at = deadline.clock()


def _rejoin(spec, failure, sampler, result, deadline, state):
    """Take the path away; the PathReturn returned gives it back and times its use."""
    state.failed_at = deadline.clock()
    returner = PathReturn(failure, sampler, spec["rejoin_hold"], spec["rejoin_wait"], deadline.clock)
    # The report is the returner's own dict, filled in as it goes (also when an error ends the transfer).
    returner.report.update({"away": spec["rejoin_away"], "after_bytes": result["bytes"], "at_seconds": deadline.since_start()})
    result["rejoin"] = returner.report
    returner.start()
    return returner


def _restore(failure, result, message):
    """Bring the failed link back whatever happened; a restore failure is reported, and
    never hides the transfer's own failure."""
    try:
        failure.restore()
    except MptcpError as exc:
        failure.report.update({"restored": False, "restore_error": str(exc)})
        message = (message + "; " if message else "") + "the link %s could not be restored: %s" % (
            failure.interface, exc)
    for taken in (result["failover"], result["rejoin"]):
        if taken is not None:
            for key in ("restored", "restore_error", "addresses_readded", "routes_restored"):
                if key in failure.report:
                    taken[key] = failure.report[key]
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
