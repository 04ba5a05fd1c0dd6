# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure planner of the path manager: (state found, state wanted) -> ordered actions,
one readable line per action, warnings, the predicted state and the diff. It reads and
touches nothing, so check mode and a real run share every decision.

Rules of the kernel the plan follows (seen on Linux 6.18):
- an endpoint is identified by its address and port;
- SET_FLAGS changes only backup and fullmesh in place; any other change (signal, subflow,
  laminar, dev, id) is a delete and an add, which closes the subflows on that endpoint;
- at most 8 endpoints, ids 1-255 and unique;
- `implicit` endpoints belong to the kernel: `exclusive` leaves them alone.

Actions run in this order: deletes (they free ids, addresses and room under the cap),
in-place flag changes, adds with an id, adds the kernel numbers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.differences import DifferenceTracker
from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    MAX_ENDPOINTS,
    check_port_flags,
    describe_endpoint,
    describe_flags,
    endpoint_key,
    is_implicit,
    key_order,
    make_endpoint,
    sort_endpoints,
)


class Plan:
    def __init__(self, before, after):
        self.actions = []
        self.warnings = []
        self.before = before
        self.after = after

    @property
    def changed(self):
        return bool(self.actions)

    @property
    def changes(self):
        return [action["line"] for action in self.actions]


def _endpoint_lines(endpoints):
    return [describe_endpoint(e) for e in sorted(endpoints, key=key_order)]


def path_manager_diff(netns=None, limits_before=None, limits_after=None, endpoints_before=None,
                      endpoints_after=None):
    """Ansible's diff of the limits, the endpoints or both (None: not part of the run)."""
    tracker = DifferenceTracker()
    if limits_before is not None:
        for name in sorted(limits_before):
            tracker.add(name, limits_before[name], limits_after[name])
    if endpoints_before is not None:
        tracker.add("endpoints", _endpoint_lines(endpoints_before), _endpoint_lines(endpoints_after))
    what = ("MPTCP path manager" if limits_before is not None and endpoints_before is not None
            else "MPTCP limits" if limits_before is not None else "MPTCP endpoints")
    where = " (netns %s)" % netns if netns else ""
    return tracker.diff(what + " before" + where, what + " after" + where)


# --- limits ---------------------------------------------------------------------------------

def plan_limits(current, wanted):
    """current: {subflows, add_addr_accepted}; wanted: the ones given (validated)."""
    after = dict(current)
    after.update(wanted)
    plan = Plan(dict(current), after)
    moved = ["%s %d -> %d" % (name, current[name], after[name])
             for name in ("subflows", "add_addr_accepted") if current[name] != after[name]]
    if moved:
        plan.actions.append({"op": "set_limits", "before": dict(current), "after": after,
                             "line": "set limits: " + ", ".join(moved)})
    return plan


# --- endpoints ------------------------------------------------------------------------------

def _where(endpoint):
    return "endpoint " + describe_endpoint(endpoint)


def _what_differs(current, wanted):
    parts = []
    if current["flags"] != wanted["flags"]:
        parts.append("flags %s -> %s" % (describe_flags(current["flags"]), describe_flags(wanted["flags"])))
    if current["dev"] != wanted["dev"]:
        parts.append("dev %s -> %s" % (current["dev"] or "(none)", wanted["dev"] or "(none)"))
    if current["id"] != wanted["id"]:
        parts.append("id %s -> %s" % (current["id"], wanted["id"]))
    return ", ".join(parts)


def _resolve(current, wanted):
    """The endpoint wanted, with every field left out taken from the one found. Asking for
    an address the kernel holds as `implicit` makes it an ordinary endpoint."""
    flags = wanted["flags"]
    if flags is None:
        flags = [name for name in current["flags"] if name != "implicit"]
    return make_endpoint(
        current["address"],
        endpoint_id=wanted["id"] if wanted["id"] is not None else current["id"],
        port=current["port"],
        dev=wanted["dev"] if wanted["dev"] is not None else current["dev"],
        flags=flags)


def _check_addable(endpoint, caps, label):
    check_port_flags(label, endpoint["port"], endpoint["flags"])
    missing = [name for name in endpoint["flags"] if name not in caps.settable_flags]
    if missing:
        raise ValidationError(
            "%s%s needs flag %s, which %s cannot set: use a backend that knows it "
            "(backend=pyroute2, or a newer iproute2)"
            % (label, describe_endpoint(endpoint), ", ".join(missing), caps.description))


def _check_dev(wanted, links, netns, label):
    if wanted["dev"] is not None and wanted["dev"] not in links:
        raise ValidationError("%sdev=%r does not exist in %s" % (
            label, wanted["dev"], "netns %s" % netns if netns else "this network namespace"))


def _check_result(final, labels):
    if len(final) > MAX_ENDPOINTS:
        raise ValidationError(
            "the result would have %d endpoints (%s); the kernel allows at most %d per "
            "namespace" % (len(final), ", ".join(e["address"] for e in final), MAX_ENDPOINTS))
    owners = {}
    for endpoint in final:
        if endpoint["id"] is None:
            continue
        other = owners.get(endpoint["id"])
        if other is not None:
            if endpoint_key(endpoint) not in labels:
                endpoint, other = other, endpoint
            raise ValidationError("%sid %d is wanted for %s but %s keeps it" % (
                labels.get(endpoint_key(endpoint), ""), endpoint["id"], endpoint["address"],
                describe_endpoint(other)))
        owners[endpoint["id"]] = endpoint


def plan_endpoints(current, wanted, state, exclusive, caps, links=None, netns=None):
    """current: endpoints read from the kernel; wanted: validated specs (path_manager/model.py); links:
    the interface names of the namespace (needed when a dev is given)."""
    if state == "absent":
        return _plan_absent(current, wanted)

    by_key = dict((endpoint_key(e), e) for e in current)
    final, matched, labels = [], set(), {}
    deletes, in_place, adds = [], [], []
    for spec in wanted:
        label = spec.get("label", "")
        _check_dev(spec, links or (), netns, label)
        key = (spec["address"], spec["port"] or 0)
        labels[key] = label
        found = by_key.get(key)
        if found is None:
            new = make_endpoint(spec["address"], endpoint_id=spec["id"], port=spec["port"],
                                dev=spec["dev"], flags=spec["flags"] or [])
            _check_addable(new, caps, label)
            adds.append((new, None))
            final.append(new)
            continue
        matched.add(key)
        resolved = _resolve(found, spec)
        final.append(resolved)
        if resolved == found:
            continue
        toggled = set(found["flags"]) ^ set(resolved["flags"])
        if (resolved["id"] == found["id"] and resolved["dev"] == found["dev"]
                and toggled <= caps.in_place_flags):
            in_place.append((found, resolved))
            continue
        _check_addable(resolved, caps, label)
        differs = _what_differs(found, resolved)
        deletes.append((found, "to add it again: " + differs))
        adds.append((resolved, differs))

    for endpoint in current:
        if endpoint_key(endpoint) in matched:
            continue
        if exclusive and not is_implicit(endpoint):
            deletes.append((endpoint, "not listed (exclusive)"))
        else:
            final.append(endpoint)

    _check_result(final, labels)
    plan = Plan(list(current), sort_endpoints(final))
    for endpoint, reason in sorted(deletes, key=lambda item: item[0]["id"]):
        plan.actions.append({"op": "delete", "endpoint": endpoint,
                             "line": "delete %s: %s" % (_where(endpoint), reason)})
    for found, resolved in in_place:
        plan.actions.append({"op": "set_flags", "endpoint": found, "after": resolved,
                             "line": "change %s in place: flags %s -> %s" % (
                                 _where(found), describe_flags(found["flags"]),
                                 describe_flags(resolved["flags"]))})
    # Adds with an id first, so that the kernel numbering the others cannot take one.
    for endpoint, differs in sorted(adds, key=lambda item: item[0]["id"] is None):
        numbered = "" if endpoint["id"] is not None else " (id chosen by the kernel)"
        plan.actions.append({"op": "add", "endpoint": endpoint,
                             "line": "add %s%s" % (_where(endpoint), numbered)})
        if differs:
            plan.warnings.append(
                "endpoint %s is deleted and added again (%s): the subflows using it close"
                % (describe_endpoint(endpoint), differs))
    _check_reversible(plan, caps)
    return plan


def _plan_absent(current, wanted):
    doomed = []
    for spec in wanted:
        for endpoint in current:
            if spec["address"] is not None and endpoint["address"] != spec["address"]:
                continue
            if spec["port"] is not None and (endpoint["port"] or 0) != spec["port"]:
                continue
            if spec["id"] is not None and endpoint["id"] != spec["id"]:
                continue
            if endpoint not in doomed:
                doomed.append(endpoint)
    plan = Plan(list(current), sort_endpoints([e for e in current if e not in doomed]))
    for endpoint in sorted(doomed, key=lambda e: e["id"]):
        plan.actions.append({"op": "delete", "endpoint": endpoint,
                             "line": "delete %s: state=absent" % _where(endpoint)})
    return plan


def _check_reversible(plan, caps):
    """A batch is applied whole or undone. Undoing a delete adds the endpoint again, which
    needs every flag it had; only the last action may be one that cannot be undone (nothing
    after it can fail). Implicit endpoints are not re-added: the kernel makes them again
    when a connection needs one."""
    for action in plan.actions[:-1]:
        if action["op"] != "delete" or is_implicit(action["endpoint"]):
            continue
        missing = [name for name in action["endpoint"]["flags"] if name not in caps.settable_flags]
        if missing:
            raise ValidationError(
                "%s has flag %s, which %s cannot set: if a later step failed, its deletion "
                "could not be undone. Use backend=pyroute2, or delete it in a task of its own"
                % (_where(action["endpoint"]), ", ".join(missing), caps.description))
