# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Why an extra subflow did not form: for each local endpoint that opens joins (other than
the address of the initial subflow), the joins the kernel sent and had answered (the
MPTcpExt counters' deltas over the transfer), the route the kernel would take from that
address to each address it joins (`ip -j route get TO from ADDRESS oif DEV`), and one
line a user can act on where the path cannot work.

Two failures look alike from the application (one subflow, no error) and differ here:
- no route from the address through its device: with `oif` the kernel never fails the
  lookup, it assumes the destination is on the link (net/ipv4/route.c, "Apparently,
  routing tables are wrong"), so the join SYN goes out where nobody answers. `ip route
  get fibmatch` tells that apart: it names the route that matched, or fails when none did.
- the route is there, the joins go out (MPJoinSynTx) and nothing comes back
  (MPJoinSynAckRx): the server's replies to that address take another way (its return
  route, a router that does not know the client's network) or a strict rp_filter drops
  them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend import choose_host_backend
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_counters import read_counters

# MPTcpExt counters of joins, client side. The three errors came later than the first two
# (Linux 6.2); a kernel without one simply does not show it.
JOINS_SENT = "MPJoinSynTx"
JOINS_ANSWERED = "MPJoinSynAckRx"
JOIN_ERRORS = (
    ("MPJoinSynTxCreatSkErr", "the kernel could not create the subflow's socket"),
    ("MPJoinSynTxBindErr", "the subflow could not bind to the endpoint's address (is it still on the host?)"),
    ("MPJoinSynTxConnectErr", "the subflow's connect failed at once (no route at all from that address)"),
)
JOIN_COUNTERS = (JOINS_SENT, JOINS_ANSWERED) + tuple(name for name, _meaning in JOIN_ERRORS)
# Flags of an endpoint that opens joins: subflow to the server's address the client
# connected to; fullmesh and laminar to the addresses the server announces.
TO_SERVER_FLAGS = ("subflow",)
TO_ANNOUNCED_FLAGS = ("fullmesh", "laminar")
OPEN_STATES = ("established", "fin_wait1", "fin_wait2", "close_wait")


def joining_endpoints(endpoints, initial_local):
    """The endpoints that open joins, the initial subflow's address left out."""
    found = []
    for endpoint in endpoints:
        if endpoint.get("address") == initial_local:
            continue
        if set(endpoint.get("flags") or ()) & set(TO_SERVER_FLAGS + TO_ANNOUNCED_FLAGS):
            found.append(endpoint)
    return found


def announced_addresses(events, paths=(), server=None):
    """The addresses the server announced (ADD_ADDR), from the path manager's events, and
    the other server addresses the subflows went to (where no events could be read)."""
    found = []
    seen = [e.get("daddr") for e in events or () if e.get("type") == "announced"]
    seen += [p.get("remote") for p in paths or ()]
    for address in seen:
        if address and address != server and address not in found:
            found.append(address)
    return found


def join_targets(endpoint, server, announced):
    """The addresses the kernel joins from this endpoint, of its family."""
    flags = set(endpoint.get("flags") or ())
    targets = [server] if flags & set(TO_SERVER_FLAGS) else []
    if flags & set(TO_ANNOUNCED_FLAGS):
        targets += [address for address in announced if address not in targets]
    version = ipaddress.ip_address(u"%s" % endpoint["address"]).version
    return [t for t in targets if ipaddress.ip_address(u"%s" % t).version == version]


def route_get_argv(to, source, dev, fibmatch=False):
    return ["ip", "-j", "route", "get"] + (["fibmatch"] if fibmatch else []) + [to, "from", source] \
        + (["oif", dev] if dev else [])


def parse_route_get(rc, out, err):
    """`ip -j route get` -> its one route (dict), or None with the error it printed."""
    if rc != 0:
        return None, (err or out or "exit status %d" % rc).strip()
    try:
        routes = json.loads(out) if out.strip() else []
    except ValueError:
        return None, "not JSON: %r" % out[:200]
    if not routes:
        return None, "no route in the output"
    return routes[0], None


def judge_route(source, dev, to, route, route_error, matched, match_error):
    """The route from `source` (bound to `dev`, or None) to `to`, as the result shows it
    and with the reason it cannot carry a join (None when it can). route: `ip route get`'s;
    matched: `ip route get fibmatch`'s (the FIB entry, None where none matched)."""
    entry = {"to": to, "dev": None, "gateway": None, "table": None, "ok": False, "error": None}
    if route is None:
        entry["error"] = route_error
        return entry, "no route from %s%s to %s (%s): give this endpoint its gateway" % (
            source, " via %s" % dev if dev else "", to, route_error)
    entry.update(dev=route.get("dev"), gateway=route.get("gateway"))
    if matched is not None:
        entry["table"] = matched.get("table", "main")
    if dev and route.get("dev") != dev:
        return entry, "no route from %s via %s to %s: it would leave by %s: give this endpoint its gateway" % (
            source, dev, to, route.get("dev"))
    if matched is None:
        # The kernel found no route through that device and assumes the server is on its
        # link: the join's SYN asks that link for the server and nobody answers.
        entry["error"] = match_error
        return entry, "no route from %s via %s to %s: give this endpoint its gateway" % (
            source, dev or route.get("dev"), to)
    entry["ok"] = True
    return entry, None


def established_from(address, paths, events):
    """A subflow from this address was established at some point of the transfer."""
    if any(p.get("local") == address and p.get("state") in OPEN_STATES for p in paths or ()):
        return True
    return any(e.get("type") == "sf_established" and e.get("saddr") == address for e in events or ())


def join_counts(deltas, available):
    """The join counters' deltas, those of this kernel only (0 where it did not move)."""
    return dict((name, deltas.get(name, 0)) for name in JOIN_COUNTERS if name in available or name in deltas)


def unanswered_line(address, counts, alone):
    sent, answered = counts.get(JOINS_SENT, 0), counts.get(JOINS_ANSWERED, 0)
    if alone:
        return ("joins from %s sent %d, answered %d: the server's replies to %s do not come back "
                "(its return route or a strict rp_filter)" % (address, sent, answered, address))
    return ("no join from %s was answered (joins of this host sent %d, answered %d): the server's replies "
            "to %s do not come back (its return route or a strict rp_filter)" % (address, sent, answered, address))


def diagnose(endpoints, result, events, available, run):
    """The `joins` result of a client transfer. endpoints: the path manager's endpoints
    (path_manager's read); result: the client's result so far (local_address, address,
    paths, counters); events: the connection's path manager events; available: the names
    of the MPTcpExt counters this kernel has; run(argv) -> (rc, stdout, stderr) text."""
    counts = join_counts(result.get("counters") or {}, available)
    announced = announced_addresses(events, result.get("paths"), result.get("address"))
    joining = joining_endpoints(endpoints, result.get("local_address"))
    addresses = []
    problems = []
    for endpoint in joining:
        source, dev = endpoint["address"], endpoint.get("dev")
        entry = {"address": source, "dev": dev, "flags": list(endpoint.get("flags") or ()),
                 "established": established_from(source, result.get("paths"), events),
                 "routes": [], "problem": None}
        route_problem = None
        for to in join_targets(endpoint, result.get("address"), announced):
            route, route_error = parse_route_get(*run(route_get_argv(to, source, dev)))
            matched, match_error = parse_route_get(*run(route_get_argv(to, source, dev, fibmatch=True)))
            judged, problem = judge_route(source, dev, to, route, route_error, matched, match_error)
            entry["routes"].append(judged)
            route_problem = route_problem or problem
        if not entry["established"]:
            if route_problem:
                entry["problem"] = route_problem
            elif entry["routes"] and counts.get(JOINS_SENT, 0) > counts.get(JOINS_ANSWERED, 0):
                entry["problem"] = unanswered_line(source, counts, len(joining) == 1)
        if entry["problem"]:
            problems.append(entry["problem"])
        addresses.append(entry)
    for name, meaning in JOIN_ERRORS:
        if counts.get(name, 0) > 0:
            problems.append("%d join(s) were not sent: %s (%s +%d)" % (counts[name], meaning, name, counts[name]))
    return {"counters": counts, "announced": announced, "addresses": addresses, "problems": problems}


def host_diagnosis(host):
    """diagnose(result) for run_client on a module's host: the endpoints read with the
    path manager's backend (auto), routes with the host's `ip`."""
    def diagnose_joins(result):
        try:
            backend = choose_host_backend(host, "auto")[0]
            try:
                endpoints = backend.read_endpoints()
            finally:
                backend.close()
            available = read_counters().keys()
        except MptcpError as exc:
            return {"counters": {}, "announced": [], "addresses": [], "problems": [],
                    "error": "cannot read the endpoints or counters: %s" % exc}
        return diagnose(endpoints, result, result.get("events"), available, host.run)
    return diagnose_joins
