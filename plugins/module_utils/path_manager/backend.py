# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choosing the backend of the path manager (auto, iproute2, pyroute2), and applying a
batch of planned actions whole: when the kernel refuses a step, the steps already done are
undone in reverse order and the error says what the kernel said and what was undone."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.batch import Batch
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.netns import netns_path
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.arguments import BACKENDS
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import KERNEL_IN_PLACE_FLAGS, endpoint_key, is_implicit
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_pyroute2 import Pyroute2Backend, unusable_reason


def _iproute2_check(backend, endpoint_flags):
    """(whether this `ip` does all that is asked, the endpoints read to tell or None): it
    has `ip mptcp`, and where endpoints are written (endpoint_flags: the flags wanted, else
    None), it can set those flags and the flags of the endpoints the kernel holds (a change,
    or undoing a delete, adds one again with them), and change flags in place (without
    `endpoint change` a change would be a delete and add)."""
    try:
        capabilities = backend.capabilities()
    except MptcpError:  # no `ip mptcp` in this iproute2
        return False, None
    if endpoint_flags is None:
        return True, None
    endpoints = backend.read_endpoints()
    held = set(name for endpoint in endpoints if not is_implicit(endpoint) for name in endpoint["flags"])
    can = (set(endpoint_flags) | held <= capabilities.settable_flags
           and set(KERNEL_IN_PLACE_FLAGS) <= capabilities.in_place_flags)
    return can, endpoints


def iproute2_can(backend, endpoint_flags):
    """Whether this `ip` does all that is asked (see _iproute2_check)."""
    return _iproute2_check(backend, endpoint_flags)[0]


def choose_backend(choice, netns=None, run=None, ip_path=None, endpoint_flags=None, netns_file=None):
    """The backend asked for, and the endpoints read while choosing it (None where none
    were read), so that a run reads them once. `auto` takes iproute2 where its `ip` does
    all that is asked (see _iproute2_check), else pyroute2 where a version that works can
    be imported and opened, else iproute2 still, which then says what it lacks. iproute2
    comes first because a run costs a few `ip` processes (2-5 ms each), where importing
    pyroute2 costs 80-95 ms on a target, and every distribution has iproute2 while many
    lack pyroute2. run/ip_path: how to run `ip` (None: not found); endpoint_flags: see
    _iproute2_check; netns_file: the namespace's bind mount, where resolved already."""
    if choice not in BACKENDS:
        raise MptcpError("backend=%r is not one of %s" % (choice, ", ".join(BACKENDS)))
    if netns and netns_file is None:
        netns_file = netns_path(netns)  # fails clearly when it does not exist; never creates it
    endpoints = None
    if choice == "iproute2" or (choice == "auto" and ip_path is not None):
        if ip_path is None:
            raise MptcpError("backend=iproute2: the ip command (iproute2) was not found")
        iproute2 = Iproute2Backend(run, ip_path, netns)
        if choice == "iproute2":
            return iproute2, None
        can, endpoints = _iproute2_check(iproute2, endpoint_flags)
        if can:
            return iproute2, endpoints
    pyroute2_problem = unusable_reason()
    if pyroute2_problem is None:
        try:
            # pyroute2 reads the endpoints again: where iproute2 falls short, it may also
            # show them short (a flag it does not know).
            return Pyroute2Backend(netns, netns_file), None
        except MptcpError as exc:
            pyroute2_problem = "%s" % exc
    if choice == "pyroute2":
        raise MptcpError("backend=pyroute2: %s. Install python3-pyroute2 on the target "
                         "or use backend=auto or iproute2" % pyroute2_problem)
    if ip_path is None:
        raise MptcpError("the ip command (iproute2) was not found and pyroute2 is not usable (%s)"
                         % pyroute2_problem)
    return iproute2, endpoints


def open_backend(choice, netns=None, run=None, ip_path=None, endpoint_flags=None):
    """The backend asked for (see choose_backend)."""
    return choose_backend(choice, netns, run, ip_path, endpoint_flags)[0]


def choose_host_backend(host, choice, netns=None, endpoint_flags=None, netns_file=None):
    """choose_backend for a module's host (module_exit.ModuleHost)."""
    ip_path = host.bin_path("ip")
    return choose_backend(choice, netns, host.run if ip_path else None, ip_path, endpoint_flags, netns_file)


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


def _batch(backend):
    return Batch(lambda action: _do(backend, action), lambda action: _undo(backend, action), "the namespace is")


def apply_actions(backend, actions):
    """Run the actions in order; on a refusal undo those done and raise one error."""
    return _batch(backend).apply(actions)


def undo_actions(backend, done):
    """Undo actions done, last first (mptcp_host, when a later part of its batch is
    refused); returns the problems met (empty: all undone)."""
    return _batch(backend).undo(done)


def rollback_all(backend, done, reason):
    """Undo a batch that ran but did not give the state planned, and raise `reason`."""
    _batch(backend).rollback(done, reason)
