# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A planned batch of actions applied whole: when a step is refused, the steps already
done are undone, last first, and one error says what was refused and what was undone.
The path manager (endpoints and limits) and the source routing (rules and routes) each
give their own do and undo of one action; every action has a readable "line"."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError


class Batch:
    """do(action) and undo(action) raise MptcpError on a refusal. `what_is_left` names what a
    failed undo leaves half changed ("the namespace is", "the rules and routes are")."""

    def __init__(self, do, undo, what_is_left):
        self._do = do
        self._undo = undo
        self._what_is_left = what_is_left

    def undo(self, done):
        """Undo the actions done, last first; returns the problems met (empty: all undone)."""
        problems = []
        for action in reversed(done):
            try:
                self._undo(action)
            except MptcpError as exc:
                problems.append("undoing '%s': %s" % (action["line"], exc))
        return problems

    def summary(self, done, problems):
        """What an error adds after the refusal: nothing changed, all undone, or what is left."""
        if not done:
            return "Nothing had been changed."
        steps = "; ".join(action["line"] for action in done)
        if problems:
            return ("UNDO FAILED, %s left half changed: %s. Steps that had been done: %s"
                    % (self._what_is_left, "; ".join(problems), steps))
        return "The %d step(s) already done were undone: %s." % (len(done), steps)

    def undo_and_summarize(self, done):
        return self.summary(done, self.undo(done))

    def apply(self, actions):
        """Run the actions in order; on a refusal undo those done and raise one error."""
        done = []
        for action in actions:
            try:
                self._do(action)
            except MptcpError as exc:
                raise MptcpError("%s. %s" % (("%s" % exc).rstrip("."), self.undo_and_summarize(done)))
            done.append(action)
        return done

    def rollback(self, done, reason):
        """Undo a batch that ran but did not give the state planned, and raise `reason`."""
        raise MptcpError("%s. %s" % (reason, self.undo_and_summarize(done)))
