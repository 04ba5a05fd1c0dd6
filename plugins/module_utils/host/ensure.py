# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What mptcp_host does, in one module call per host: validate the request, read the host
(what it has, what is missing, what stops the run), plan every part in check mode (each
part's own checks on the host run before anything changes), and, unless in check mode or
nothing differs, apply the parts in order as one batch: when a part is refused, the parts
already changed are undone, last first, and one error says which part was refused and what
was undone. Each part runs the ensure code of its own module (parts.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.batch import Batch
from ansible_collections.mptcp.linux.plugins.module_utils.command import remembering
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.host.parts import ABSENT, PRESENT, strict_rp_filter_warning
from ansible_collections.mptcp.linux.plugins.module_utils.host.readiness import HostReadiness
from ansible_collections.mptcp.linux.plugins.module_utils.host.request import HostRequest
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import Systemctl
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.sockets import is_socket, running_services


class QuietHost:
    """The module's host with the warnings held back: the planning pass and the applying
    pass each run every part, and only the pass whose results are returned may warn.
    read_only: the planning pass, which changes nothing, answers a command the parts ask
    twice from memory (the NetworkManager and routing parts read the same profiles, the
    tools and the path manager `ip -V`)."""

    def __init__(self, host, read_only=False):
        self._host = host
        self.warnings = []
        if read_only:
            self.run = remembering(host.run)
            self.run_bytes = remembering(host.run_bytes)

    def __getattr__(self, name):
        return getattr(self._host, name)

    def warn(self, message):
        self.warnings.append(message)


def _undo_part(action):
    problems = action["undo"]()
    if problems:
        raise MptcpError("; ".join(problems))


def _line(name, result):
    changes = result.get("changes") or result.get("files_changed") or []
    return "%s (%s)" % (name, "; ".join(changes)) if changes else name


def converge(parts, request, readiness, check_mode, host):
    """Run the parts in order -> [(part, result)]; on a refusal, undo the parts changed and
    raise one error naming the part refused."""
    batch = Batch(None, _undo_part, "the host is")
    results = {}
    ran = []
    changed = []
    for part in parts:
        params = part.params(request, readiness, results)
        if params is None:
            continue
        try:
            result, undo = part.run(params, check_mode, host)
        except MptcpError as error:
            summary = batch.undo_and_summarize(changed) if changed else "Nothing had been changed."
            raise MptcpError("%s: %s. %s" % (part.name, ("%s" % error).rstrip("."), summary),
                             part=part.name, **error.details)
        host.warnings.extend(result.pop("warnings", None) or ())
        results[part.name] = result
        ran.append((part, result))
        if undo is not None:
            changed.append(dict(line=_line(part.name, result), undo=undo))
    return ran


def report(request, readiness, ran):
    parts = [dict(result, name=part.name, module=part.module) for part, result in ran]
    changed = [entry["name"] for entry in parts if entry["changed"]]
    systemd = dict((entry["name"], entry) for entry in parts).get("systemd") or {}
    result = dict(changed=bool(changed), state=request.state, missing=[], parts=parts, changed_parts=changed,
                  services_changed=systemd.get("services_changed", []), socket_services_running=[], mptcp=readiness.facts,
                  msg="changed: %s" % ", ".join(changed) if changed else "in sync")
    diffs = []
    for entry in parts:
        if entry["changed"] and entry.get("diff"):
            diffs += entry["diff"] if isinstance(entry["diff"], list) else [entry["diff"]]
    if diffs:
        result["diff"] = diffs
    return result


def socket_services_running(host, services_changed):
    """The running services of the changed socket units (sockets.py, running_services):
    the role stops them before it restarts the sockets, and starts them after."""
    sockets = [unit for unit in services_changed if is_socket(unit)]
    systemctl_path = host.bin_path("systemctl") if sockets else None
    return running_services(Systemctl(host.run, systemctl_path), sockets) if systemctl_path else []


def ensure_host(params, check_mode, host):
    request = HostRequest(params)
    # Reading the host and planning change nothing: their commands share one memory.
    planning = QuietHost(host, read_only=True)
    readiness = HostReadiness(request, planning)
    missing = readiness.missing(request) if request.state == "present" else []
    reporting = bool(missing) and request.missing_packages == "report"
    # What no package mends (no MPTCP in the kernel, a profile not found) stops the run
    # before anything is installed; the library is looked at once it may be there.
    problems = readiness.problems(request, check_mode, library=not reporting)
    if problems:
        raise MptcpError(" ".join(problems))
    if reporting:
        # Nothing is planned on a host that lacks a tool: the role installs the packages
        # and calls again.
        return dict(changed=False, state=request.state, missing=missing, parts=[], changed_parts=[],
                    services_changed=[], socket_services_running=[], mptcp=readiness.facts,
                    msg="missing: %s" % ", ".join(missing))
    parts = PRESENT if request.state == "present" else ABSENT
    ran = converge(parts, request, readiness, True, planning)
    final = planning
    if not check_mode and any(result["changed"] for _part, result in ran):
        final = QuietHost(host)
        ran = converge(parts, request, readiness, False, final)
    warning = strict_rp_filter_warning(request, readiness)
    result = report(request, readiness, ran)
    result["missing"] = missing
    result["socket_services_running"] = socket_services_running(final, result["services_changed"])
    result["warnings"] = final.warnings + ([warning] if warning else []) + readiness.other_managers(request)[1]
    return result
