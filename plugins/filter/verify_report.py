# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify playbook's report: per client/server pair what mptcp_transfer measured, the
expectations that failed, and a table a newcomer can read (documented in
verify_report.yml and verify_table.yml beside this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

# A backup path may carry this much of the bytes while the others are up: the subflow's
# handshake and the odd retransmission, which the kernel may send on any subflow.
DEFAULT_MAX_BACKUP_SHARE = 0.01


def _results(hostvars, host, name):
    """The loop results a client registered, skipped items left out."""
    registered = hostvars[host].get(name) or {}
    return [r for r in registered.get("results", []) if not r.get("skipped")]


def _for_server(results, server):
    return [r for r in results if r.get("item") == server or
            (isinstance(r.get("item"), list) and r["item"][0] == server)]


def _subflows(result):
    """Each subflow of the client's connection: its addresses, interface, backup flag and
    bytes sent and acknowledged (the client's counters), with the bytes the server's side
    of the same subflow received (matched by addresses and ports)."""
    received = {}
    for subflow in (result.get("server") or {}).get("subflow_stats") or []:
        key = (subflow.get("remote"), subflow.get("remote_port"), subflow.get("local"), subflow.get("local_port"))
        received[key] = subflow
    subflows = []
    for subflow in result.get("subflow_stats") or []:
        other = received.get((subflow.get("local"), subflow.get("local_port"), subflow.get("remote"),
                              subflow.get("remote_port"))) or {}
        subflows.append({
            "local": subflow.get("local"), "local_port": subflow.get("local_port"),
            "remote": subflow.get("remote"), "remote_port": subflow.get("remote_port"),
            "interface": subflow.get("interface"), "backup": subflow.get("backup"),
            "bytes_sent": subflow.get("bytes_sent"), "bytes_acked": subflow.get("bytes_acked"),
            "bytes_received": other.get("bytes_received"), "server_interface": other.get("interface"),
            # The path manager's events give the peer's flag: a join the client marked
            # backup shows as backup on the server's side.
            "server_backup": other.get("backup"),
        })
    return subflows


def _subflow_bytes(subflow):
    """What a subflow carried: the bytes the server received on it, else those the client's
    side saw acknowledged (a subflow the server's samples missed)."""
    received = subflow.get("bytes_received")
    return received if received is not None else (subflow.get("bytes_acked") or 0)


def interface_shares(subflows):
    """{client interface: fraction of the bytes its subflows carried}, rounded to 4 decimals."""
    carried = {}
    for subflow in subflows or ():
        name = subflow.get("interface") or "?"
        carried[name] = carried.get(name, 0) + _subflow_bytes(subflow)
    total = sum(carried.values())
    return dict((name, round(float(value) / total, 4) if total else 0.0) for name, value in sorted(carried.items()))


def backup_bytes(subflows, backup_interfaces):
    """The bytes the subflows over backup_interfaces carried."""
    return sum(_subflow_bytes(s) for s in subflows or () if s.get("interface") in backup_interfaces)


def backup_share(subflows, backup_interfaces):
    """The fraction of the bytes the subflows over backup_interfaces carried, or None where
    nothing was carried at all."""
    total = sum(_subflow_bytes(s) for s in subflows or ())
    if not total:
        return None
    return round(float(backup_bytes(subflows, backup_interfaces)) / total, 4)


def _transfer(result):
    if result is None:
        return None
    if result.get("failed"):
        return {"failed": True, "msg": result.get("msg")}
    return {
        "mptcp": result.get("mptcp"),
        "fallback_reason": result.get("fallback_reason"),
        "subflows": result.get("subflows_max"),
        "bytes": result.get("bytes"),
        "seconds": result.get("seconds"),
        "mbit_per_s": result.get("mbit_per_s"),
        "checksum_matched": result.get("checksum_matched"),
        # What the server did not receive of what the client sent.
        "bytes_lost": (result.get("size") or 0) - ((result.get("server") or {}).get("bytes") or 0),
        "paths": ["%s -> %s" % (p.get("local"), p.get("remote")) for p in result.get("paths") or []],
        "events": [e.get("line") or e.get("type") for e in result.get("events") or []],
        "subflow_stats": _subflows(result),
        "subflow_samples": result.get("subflow_samples"),
        "server": result.get("server"),
        "failover": result.get("failover"),
        "joins": result.get("joins"),
    }


def _pair(hostvars, client, server, expectations):
    tcp = _for_server(_results(hostvars, client, "__mptcp_verify_tcp"), server)
    mptcp = _for_server(_results(hostvars, client, "__mptcp_verify_mptcp"), server)
    failovers = _for_server(_results(hostvars, client, "__mptcp_verify_failover"), server)
    services = _for_server(_results(hostvars, client, "__mptcp_verify_services"), server)
    rejoins = _for_server(_results(hostvars, client, "__mptcp_verify_rejoin"), server)
    pair = {
        "client": client,
        "server": server,
        "tcp": _transfer(tcp[0]) if tcp else None,
        "mptcp": _transfer(mptcp[0]) if mptcp else None,
        "failover": [dict(_transfer(r), interface=r["item"][1], gap_ms=(r.get("failover") or {}).get("gap_ms"))
                     for r in failovers],
        "services": [{"port": r["item"][1], "mptcp": bool(r.get("mptcp")) and not r.get("failed"),
                      "fallback_reason": r.get("fallback_reason") or r.get("msg")} for r in services],
        "rejoin": [_rejoin(r) for r in rejoins],
    }
    for transfer in [pair["mptcp"]] + pair["failover"]:
        if transfer and not transfer.get("failed"):
            transfer["interface_shares"] = interface_shares(transfer["subflow_stats"])
            if _backup_interfaces(expectations):
                transfer["backup_share"] = backup_share(transfer["subflow_stats"], _backup_interfaces(expectations))
                transfer["backup_bytes"] = backup_bytes(transfer["subflow_stats"], _backup_interfaces(expectations))
    ratio = None
    if pair["tcp"] and pair["mptcp"] and pair["tcp"].get("mbit_per_s") and pair["mptcp"].get("mbit_per_s"):
        ratio = round(pair["mptcp"]["mbit_per_s"] / pair["tcp"]["mbit_per_s"], 2)
    pair["ratio"] = ratio
    pair["diagnosis"] = []
    pair["problems"] = _problems(pair, expectations)
    return pair


REJOIN_KEYS = ("away", "subflow_closed", "closed_after_seconds", "rejoined", "rejoin_seconds", "new_subflow", "error")


def _rejoin(result):
    """A path taken away and given back (mptcp_transfer's rejoin): how, whether its
    subflow had closed, whether and when the connection used it again."""
    rejoin = dict(interface=result["item"][1], failed=bool(result.get("failed")), msg=result.get("msg"),
                  checksum_matched=result.get("checksum_matched"))
    rejoin.update((key, (result.get("rejoin") or {}).get(key)) for key in REJOIN_KEYS)
    return rejoin


def _bound(expectations, key):
    """A number of seconds the user set, or None (null: report only)."""
    value = expectations.get(key)
    if value in (None, "", "null", "none", "None"):
        return None
    try:
        bound = float(value)
    except (TypeError, ValueError):
        bound = -1
    if bound <= 0:
        raise AnsibleFilterError("mptcp_verify_%s %r is not a number of seconds above 0 (null: report only)" % (key, value))
    return bound


def _rejoin_problems(name, rejoins, bound):
    problems = []
    for rejoin in rejoins:
        where = "%s with %s taken away (%s) and given back" % (name, rejoin["interface"], rejoin.get("away"))
        if rejoin["failed"]:
            problems.append("%s: failed: %s" % (where, rejoin["msg"]))
        elif rejoin.get("error"):
            problems.append("%s: %s" % (where, rejoin["error"]))
        elif not rejoin.get("checksum_matched"):
            problems.append("%s: the data arrived changed (checksum mismatch)" % where)
        elif bound is not None and not rejoin.get("rejoined"):
            problems.append("%s: the connection did not use it again (within %s s expected)" % (where, _seconds(bound)))
        elif bound is not None and rejoin["rejoin_seconds"] > bound:
            problems.append("%s: used again after %s s, within %s s expected"
                            % (where, rejoin["rejoin_seconds"], _seconds(bound)))
    return problems


def _seconds(value):
    return int(value) if float(value).is_integer() else value


def _backup_interfaces(expectations):
    return list(expectations.get("backup_interfaces") or [])


def _backup_problems(name, pair, expectations):
    """The backup paths (the client's interfaces in backup_interfaces, whose endpoints are
    marked backup): the kernel flags their subflows backup, they carry at most
    max_backup_share of the bytes while the other paths are up, and a failover of another
    path moves the transfer onto them."""
    backups = _backup_interfaces(expectations)
    if not backups:
        return []
    limit = float(expectations.get("max_backup_share") if expectations.get("max_backup_share") is not None
                  else DEFAULT_MAX_BACKUP_SHARE)
    mptcp = pair["mptcp"]
    problems = []
    on_backup = [s for s in mptcp["subflow_stats"] if s.get("interface") in backups]
    if not on_backup:
        return ["%s: no subflow over the backup interface(s) %s" % (name, ", ".join(backups))]
    # Flagged where either kernel's events said backup (the server's sees the client's B bit).
    not_flagged = sorted(set(s.get("interface") for s in on_backup
                             if not (s.get("backup") or s.get("server_backup")) and s.get("bytes_received") is not None))
    if not_flagged:
        problems.append("%s: neither kernel flags the subflows over %s backup: is their endpoint marked backup?"
                        % (name, ", ".join(not_flagged)))
    share = mptcp.get("backup_share")
    if share is None or share > limit:
        problems.append("%s: the backup path(s) %s carried %s of the bytes while the others were up, at most %s expected"
                        % (name, ", ".join(backups), _percent(share), _percent(limit)))
    for failover in pair["failover"]:
        if failover.get("failed") or failover.get("interface") in backups:
            continue
        # What the client wrote after the link went down had no other way than the backups.
        after = (failover.get("bytes") or 0) - ((failover.get("failover") or {}).get("after_bytes") or 0)
        if not failover.get("backup_bytes") or failover["backup_bytes"] < after:
            problems.append("%s with %s down: the backup path(s) %s carried %s bytes, less than the %s written after "
                            "it went down" % (name, failover.get("interface"), ", ".join(backups),
                                              failover.get("backup_bytes"), after))
    return problems


def _percent(share):
    return "-" if share is None else "%.1f%%" % (100 * share)


def _problems(pair, expectations):
    name = "%s -> %s" % (pair["client"], pair["server"])
    problems = []
    mptcp = pair["mptcp"]
    if not mptcp:
        return ["%s: no MPTCP transfer ran" % name]
    if mptcp.get("failed"):
        return ["%s: the MPTCP transfer failed: %s" % (name, mptcp.get("msg"))]
    if not mptcp["mptcp"]:
        problems.append("%s: fell back to TCP: %s" % (name, mptcp.get("fallback_reason")))
    if not mptcp["checksum_matched"]:
        problems.append("%s: the data arrived changed (checksum mismatch)" % name)
    expected = expectations.get("subflows")
    # null (or "null" from -e on the command line): report the subflows, expect none.
    if expected in ("", "null", "none", "None"):
        expected = None
    if expected is not None and (mptcp["subflows"] or 0) < int(expected):
        problems.append("%s: %s subflows, %s expected" % (name, mptcp["subflows"], expected))
        # Why, as mptcp_transfer's diagnosis of the joins says it (one line per address).
        pair["diagnosis"] = list((mptcp.get("joins") or {}).get("problems") or [])
        problems += ["%s: %s" % (name, line) for line in pair["diagnosis"]]
    minimum = expectations.get("min_ratio")
    if minimum is not None and (pair["ratio"] is None or pair["ratio"] < float(minimum)):
        problems.append("%s: MPTCP/TCP throughput ratio %s, at least %s expected" % (name, pair["ratio"], minimum))
    problems += _backup_problems(name, pair, expectations)
    max_gap_ms = expectations.get("max_gap_ms")
    if max_gap_ms in ("", "null", "none", "None"):
        max_gap_ms = None
    for failover in pair["failover"]:
        where = "%s with %s down" % (name, failover.get("interface"))
        if failover.get("failed"):
            problems.append("%s: failed: %s" % (where, failover.get("msg")))
        elif not (failover.get("failover") or {}).get("completed") or not failover.get("checksum_matched"):
            problems.append("%s: the transfer did not complete intact" % where)
        elif failover.get("bytes_lost"):
            problems.append("%s: %s bytes lost" % (where, failover["bytes_lost"]))
        elif max_gap_ms is not None and (failover.get("gap_ms") is None or failover["gap_ms"] > int(max_gap_ms)):
            problems.append("%s: the receiver got no new bytes for %s ms, at most %s ms expected"
                            % (where, failover.get("gap_ms"), max_gap_ms))
    problems += _rejoin_problems(name, pair["rejoin"], _bound(expectations, "rejoin_max_seconds"))
    for service in pair["services"]:
        if not service["mptcp"]:
            problems.append("%s: the service on port %s did not answer in MPTCP: %s"
                            % (name, service["port"], service["fallback_reason"]))
    return problems


def verify_report(hostvars, clients, servers, expectations=None):
    """Every client/server pair, in inventory order, and the problems of all of them."""
    if not isinstance(clients, list) or not isinstance(servers, list):
        raise AnsibleFilterError("verify_report expects lists of clients and servers")
    pairs = [_pair(hostvars, c, s, expectations or {}) for c in clients for s in servers]
    problems = [p for pair in pairs for p in pair["problems"]]
    if not pairs:
        problems.append("no client/server pair: the groups of clients and servers are empty")
    return {"pairs": pairs, "problems": problems}


def _intact(failover):
    """A failover transfer that completed with the data intact and nothing lost."""
    return bool((failover.get("failover") or {}).get("completed") and failover.get("checksum_matched")
                and not failover.get("bytes_lost"))


def _number(value, unit=""):
    return "-" if value is None else "%s%s" % (value, unit)


def verify_table(report):
    """pair | MPTCP | subflows | TCP Mbit/s | MPTCP Mbit/s | ratio | failover | services"""
    rows = [["pair", "MPTCP", "subflows", "TCP Mbit/s", "MPTCP Mbit/s", "ratio", "failover", "services"]]
    for pair in report.get("pairs", []):
        mptcp = pair.get("mptcp") or {}
        tcp = pair.get("tcp") or {}
        if mptcp.get("failed"):
            negotiated = "failed"
        elif mptcp.get("mptcp"):
            negotiated = "yes" + ("" if mptcp.get("checksum_matched") else " (checksum mismatch)")
        else:
            negotiated = "no (fell back)"
        failover = ", ".join("%s down: %s%s" % (f.get("interface"), "ok" if _intact(f) else "FAILED",
                                                "" if f.get("gap_ms") is None else ", gap %s ms" % f["gap_ms"])
                             for f in pair.get("failover", [])) or "-"
        services = ", ".join("%s: %s" % (s["port"], "MPTCP" if s["mptcp"] else "TCP")
                             for s in pair.get("services", [])) or "-"
        rows.append(["%s -> %s" % (pair["client"], pair["server"]), negotiated, _number(mptcp.get("subflows")),
                     _number(tcp.get("mbit_per_s")), _number(mptcp.get("mbit_per_s")), _number(pair.get("ratio")),
                     failover, services])
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    # Below the table, what the backup paths carried, why a pair has fewer subflows than expected, and the paths that came back.
    for pair in report.get("pairs", []):
        mptcp = pair.get("mptcp") or {}
        if mptcp.get("backup_share") is not None:
            lines.append("%s -> %s: backup paths carried %s of the bytes while the others were up%s" % (
                pair["client"], pair["server"], _percent(mptcp["backup_share"]), "".join(
                    ", %s after %s went down" % (_percent(f.get("backup_share")), f.get("interface"))
                    for f in pair.get("failover", []) if "backup_share" in f)))
        lines += ["%s -> %s: %s" % (pair["client"], pair["server"], line) for line in pair.get("diagnosis") or ()]
        lines += ["%s -> %s: %s" % (pair["client"], pair["server"], _rejoin_line(r)) for r in pair.get("rejoin") or ()]
    return "\n".join(lines)


def _rejoin_line(rejoin):
    head = "%s taken away (%s) and given back: " % (rejoin.get("interface"), rejoin.get("away"))
    if rejoin.get("failed") or rejoin.get("error"):
        return head + "FAILED: %s" % (rejoin.get("msg") or rejoin.get("error"))
    closed = ("its subflow closed %s s after it went" % rejoin["closed_after_seconds"] if rejoin.get("subflow_closed")
              else "its subflow had not closed")
    if not rejoin.get("rejoined"):
        return head + "NOT used again (%s)" % closed
    return head + "used again after %s s by %s (%s)" % (
        rejoin["rejoin_seconds"], "a new subflow" if rejoin.get("new_subflow") else "the subflow it had", closed)


class FilterModule(object):
    def filters(self):
        return {"verify_report": verify_report, "verify_table": verify_table}
