# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one command runner of the collection: argument lists through
AnsibleModule.run_command (never a shell), in a locale whose messages the tools print
untranslated, so that what the code parses and what the user reads are the same words."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def command_runner(module, binary=False, locale=None):
    """run(argv) -> (rc, stdout, stderr). binary: stdout and stderr as bytes (for output
    that is not text, like `ip route save`). locale: the one to run in (looked up, with
    `locale -a`, where not given)."""
    from ansible.module_utils.common.locale import get_best_parsable_locale

    locale = locale or get_best_parsable_locale(module)
    environ = {"LANGUAGE": locale, "LC_ALL": locale, "LC_MESSAGES": locale}

    if binary:
        def run(argv):
            return module.run_command(argv, encoding=None, environ_update=environ)
    else:
        def run(argv):
            return module.run_command(argv, environ_update=environ)
    return run


def remembering(run):
    """run, answering a command asked twice from memory: for runs that only read (mptcp_info's
    subsets, mptcp_host's planning pass), where two readers ask the same (`nmcli --version`,
    `ip -j mptcp endpoint show`) of a host that does not change meanwhile."""
    answers = {}

    def remembered(argv):
        key = tuple(argv)
        if key not in answers:
            answers[key] = run(argv)
        return answers[key]
    return remembered
