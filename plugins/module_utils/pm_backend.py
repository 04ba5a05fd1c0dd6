# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choosing the backend of the path manager (auto, pyroute2, iproute2), and applying a
batch of planned actions whole: when the kernel refuses a step, the steps already done are
undone in reverse order and the error says what the kernel said and what was undone."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.netns import netns_path
from ansible_collections.mptcp.linux.plugins.module_utils.pm_iproute2 import Iproute2Backend, ansible_runner
from ansible_collections.mptcp.linux.plugins.module_utils.pm_model import endpoint_key, is_implicit
from ansible_collections.mptcp.linux.plugins.module_utils.pm_pyroute2 import Pyroute2Backend, unusable_reason

BACKENDS = ("auto", "pyroute2", "iproute2")
# The argument spec of the options every path-manager module has (doc fragment
# mptcp.linux.path_manager).
BACKEND_OPTIONS = dict(
    netns=dict(type="str"),
    backend=dict(type="str", choices=list(BACKENDS), default="auto"),
)


def open_backend(choice, netns=None, run=None, ip_path=None):
    """The backend asked for; `auto` takes pyroute2 when a version that works can be
    imported and opened, else iproute2. run/ip_path: how to run `ip` (None: not found)."""
    if choice not in BACKENDS:
        raise MptcpError("backend=%r is not one of %s" % (choice, ", ".join(BACKENDS)))
    if netns:
        netns_path(netns)  # fails clearly when it does not exist; never creates it
    pyroute2_problem = None
    if choice in ("auto", "pyroute2"):
        pyroute2_problem = unusable_reason()
        if pyroute2_problem is None:
            try:
                return Pyroute2Backend(netns)
            except MptcpError as exc:
                pyroute2_problem = "%s" % exc
        if choice == "pyroute2":
            raise MptcpError("backend=pyroute2: %s. Install python3-pyroute2 on the target "
                             "or use backend=auto or iproute2" % pyroute2_problem)
    if ip_path is None:
        raise MptcpError("the ip command (iproute2) was not found%s" % (
            " and pyroute2 is not usable (%s)" % pyroute2_problem if pyroute2_problem else ""))
    return Iproute2Backend(run, ip_path, netns)


def open_module_backend(module):
    """The backend for an AnsibleModule with the options `backend` and `netns`."""
    ip_path = module.get_bin_path("ip")
    run = ansible_runner(module) if ip_path else None
    return open_backend(module.params["backend"], module.params.get("netns"), run, ip_path)


# --- applying a batch -----------------------------------------------------------------------

def _do(backend, action):
    op = action["op"]
    if op == "add":
        backend.add_endpoint(action["endpoint"])
    elif op == "delete":
        backend.delete_endpoint(action["endpoint"])
    elif op == "set_flags":
        backend.set_endpoint_flags(action["endpoint"], action["after"]["flags"])
    elif op == "set_limits":
        backend.set_limits(action["after"])
    else:
        raise MptcpError("unknown action %r" % op)


def _undo(backend, action):
    op = action["op"]
    if op == "add":
        # The kernel may have numbered it: find it by its address and port.
        key = endpoint_key(action["endpoint"])
        for endpoint in backend.read_endpoints():
            if endpoint_key(endpoint) == key:
                backend.delete_endpoint(endpoint)
    elif op == "delete":
        # The kernel makes implicit endpoints again when a connection needs one.
        if not is_implicit(action["endpoint"]):
            backend.add_endpoint(action["endpoint"])
    elif op == "set_flags":
        backend.set_endpoint_flags(action["after"], action["endpoint"]["flags"])
    elif op == "set_limits":
        backend.set_limits(action["before"])


def undo_actions(backend, done):
    """Undo the actions done, last first; returns the problems met (empty: all undone)."""
    problems = []
    for action in reversed(done):
        try:
            _undo(backend, action)
        except MptcpError as exc:
            problems.append("undoing '%s': %s" % (action["line"], exc))
    return problems


def undone_summary(done, problems):
    if not done:
        return "Nothing had been changed."
    if problems:
        return ("UNDO FAILED, the namespace is left half changed: %s. Steps that had been done: %s"
                % ("; ".join(problems), "; ".join(a["line"] for a in done)))
    return "The %d step(s) already done were undone: %s." % (len(done), "; ".join(a["line"] for a in done))


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
