# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rule and route actions of a planned batch, done and undone through the kernel
backend (backend_iproute2.Iproute2Routing); applying them whole with rollback is
module_utils/batch.py's."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.batch import Batch
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


def routing_batch(backend):
    """The batch of rule and route actions through this backend (module_utils/batch.py)."""
    return Batch(lambda action: _do(backend, action), lambda action: _do(backend, dict(action, op=UNDO[action["op"]])),
                 "the rules and routes are")


def apply_actions(backend, actions):
    """Run the actions in order; on a refusal undo those done and raise one error."""
    return routing_batch(backend).apply(actions)
