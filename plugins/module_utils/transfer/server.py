# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The transfer's server side: accept up to `connections` connections, receive until EOF,
answer each with what it received and what its socket says about itself."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import select
import socket
import threading
import time

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_counters import counter_deltas, read_counters
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import (
    IPPROTO_MPTCP,
    PROTOCOLS,
    open_socket,
    socket_protocol,
    tcp_is_mptcp,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.local_interfaces import interfaces_by_address
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.pm_events import EventListener, events_of
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.receive_timeline import ReceiveTimeline
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.stream import (
    LINGER,
    SubflowSampler,
    family_of,
    mbit_per_s,
    protocol_name,
    remaining,
)
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.subflow_series import SubflowSeries


class ServerConnection(threading.Thread):
    """One accepted connection: receive until EOF, then answer with the report.
    `events()` -> the path manager's events collected so far (for the subflows' backup
    flags; the report goes out before the server stops collecting)."""

    def __init__(self, sock, peer, deadline, clock, events=list):
        threading.Thread.__init__(self, name="mptcp-transfer-connection")
        self.daemon = True
        self.sock = sock
        self.deadline = deadline
        self.clock = clock
        self.events = events
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
        report["protocol"] = protocol_name(protocol)
        accepted = self.clock()
        interfaces = interfaces_by_address()
        sampler = SubflowSampler(sock, self.clock, SubflowSeries(accepted, "bytes_received"))
        timeline = ReceiveTimeline(accepted)
        sampler.sample(force=True)
        digest = hashlib.sha256()
        buf = bytearray(1 << 18)
        view = memoryview(buf)
        started = None
        while True:
            sock.settimeout(remaining(self.deadline, self.clock))
            count = sock.recv_into(buf)
            if self.aborted:
                raise socket.timeout("timed out")
            if not count:
                break
            if started is None:
                started = self.clock()
            digest.update(view[:count])
            report["bytes"] += count
            timeline.received(self.clock(), report["bytes"])
            sampler.sample()
        seconds = self.clock() - started if started is not None else 0.0
        sampler.sample(force=True)
        mptcp = tcp_is_mptcp(sock)
        if mptcp is None:
            mptcp = protocol == IPPROTO_MPTCP and sampler.info is not None and not sampler.info["fallback"]
        token = sampler.info["token_hex"] if sampler.info else None
        subflow_stats, subflow_samples = sampler.series.report(
            interfaces, events_of(self.events(), [token]) if token else [])
        report.update({
            "subflow_stats": subflow_stats,
            "subflow_samples": subflow_samples,
            "receive_timeline": timeline.report(),
            "digest": digest.hexdigest(),
            "seconds": round(seconds, 3),
            "mbit_per_s": mbit_per_s(report["bytes"], seconds),
            "mptcp": bool(mptcp),
            "subflows_max": sampler.max if sampler.max is not None else 1,
            "subflows_end": sampler.last if sampler.last is not None else 1,
            "paths": sampler.paths or [],
            "token": sampler.info["token_hex"] if sampler.info else None,
        })
        sock.settimeout(remaining(self.deadline, self.clock))
        sock.sendall(json.dumps(report, sort_keys=True).encode("ascii") + b"\n")
        sock.shutdown(socket.SHUT_WR)
        # Let the client close first (it reads the report, then closes), within bounds.
        sock.settimeout(min(LINGER, remaining(self.deadline, self.clock)))
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
        lsock = open_socket(family_of(spec["address"]), PROTOCOLS[spec["protocol"]])
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
            worker = ServerConnection(sock, peer, deadline, clock,
                                      events=listener.snapshot if listener is not None and listener.warning is None else list)
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
