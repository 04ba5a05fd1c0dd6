# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying a planned batch of rule and route actions whole, through the kernel backend
(backend_iproute2.Iproute2Routing): when a step is refused, the steps already done are
undone in reverse order and one error says what was refused and what was undone."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError


def _do(backend, action):
    op, item = action["op"], action["item"]
    if op == "add_rule":
        backend.add_rule(item)
    elif op == "delete_rule":
        backend.delete_rule(item)
    elif op == "replace_route":
        backend.replace_route(item, action["src"])
    elif op == "delete_route":
        backend.delete_route(item)
    else:
        raise MptcpError("unknown action %r" % op)


UNDO = {"add_rule": "delete_rule", "delete_rule": "add_rule", "replace_route": "delete_route",
        "delete_route": "replace_route"}


def undo_actions(backend, done):
    """Undo the actions done, last first; returns the problems met (empty: all undone)."""
    problems = []
    for action in reversed(done):
        try:
            _do(backend, dict(action, op=UNDO[action["op"]]))
        except MptcpError as exc:
            problems.append("undoing '%s': %s" % (action["line"], exc))
    return problems


def undone_summary(done, problems):
    if not done:
        return "Nothing had been changed."
    if problems:
        return ("UNDO FAILED, the rules and routes are left half changed: %s. Steps that had been done: %s"
                % ("; ".join(problems), "; ".join(action["line"] for action in done)))
    return "The %d step(s) already done were undone: %s." % (len(done), "; ".join(action["line"] for action in done))


def apply_actions(backend, actions):
    """Run the actions in order; on a refusal undo those done and raise one error."""
    done = []
    for action in actions:
        try:
            _do(backend, action)
        except MptcpError as exc:
            raise MptcpError("%s. %s" % (("%s" % exc).rstrip("."), undone_summary(done, undo_actions(backend, done))))
        done.append(action)
    return done


def rollback_all(backend, done, reason):
    """Undo a batch that ran but did not give the state planned, and raise `reason`."""
    raise MptcpError("%s. %s" % (reason, undone_summary(done, undo_actions(backend, done))))
