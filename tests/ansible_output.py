"""What the tests read in ansible's output, the same on every ansible-core line.

Deprecation warnings of ours in what ansible and ansible-playbook print on stderr: the lab
tests and the target-Python kernel tests fail on them, so that our content uses nothing
the newest ansible-core is taking away. And a clean failure (no traceback)."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The collection (mptcp.linux), its modules and plugins (mptcp_*, nm_mptcp_flags), the
# role's variables (mptcp_*), the lab's connection, or a file of this repository.
OURS = re.compile(r"mptcp|" + re.escape(REPO))
# ansible-core 2.19+ prints each message as a paragraph that may run over several lines
# (its Origin: file, line and the source there), up to the next message.
MESSAGE_START = re.compile(r"(?m)^(?=\[(?:DEPRECATION WARNING|WARNING|ERROR)\])")


def deprecations_of_ours(stderr):
    """The `[DEPRECATION WARNING]` paragraphs in `stderr` that name something of ours."""
    return [block.strip() for block in MESSAGE_START.split(stderr)
            if block.startswith("[DEPRECATION WARNING]") and OURS.search(block)]


def assert_no_deprecation_of_ours(argv, stderr):
    found = deprecations_of_ours(stderr)
    if found:
        raise AssertionError("%s warned of deprecations of ours:\n%s" % (" ".join(argv), "\n\n".join(found)))


# ansible-core 2.19+ puts `exception` into every failed module result, this text when no
# traceback was captured (the default), even for a plain fail_json (ansible.builtin.file's
# too); before 2.19 a clean failure had no `exception` at all.
NO_TRACEBACK = "(traceback unavailable)"


def failed_cleanly(result):
    """True when a failed module result carries no traceback: no module_stderr (a crash),
    no `exception` but ansible-core's own placeholder."""
    return result.get("exception", NO_TRACEBACK) == NO_TRACEBACK and "module_stderr" not in result
