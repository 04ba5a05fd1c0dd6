# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that write values into systemd unit files safely, and name units (documented in
systemd_exec.yml, systemd_environment.yml and systemd_service_units.yml beside this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mptcp.linux.plugins.module_utils.systemd.files import service_unit


def quote_argument(value, expand_variables=True):
    """One argument in double quotes, escaped for systemd's parser. `$` is special only on
    command lines (variable expansion), not in Environment= assignments."""
    text = to_text(value)
    escaped = []
    for char in text:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "%":
            escaped.append("%%")
        elif char == "$" and expand_variables:
            escaped.append("$$")
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append("\\x%02x" % ord(char))
        else:
            escaped.append(char)
    return '"%s"' % "".join(escaped)


def systemd_exec(argv):
    if not isinstance(argv, (list, tuple)) or not argv:
        raise AnsibleFilterError("systemd_exec expects a non-empty list of arguments, got %r" % (argv,))
    if not to_text(argv[0]).startswith("/"):
        raise AnsibleFilterError("systemd_exec: the command must be an absolute path, got %r" % (argv[0],))
    # systemd takes the first word unquoted as the path; quoting it too is allowed.
    return " ".join(quote_argument(arg) for arg in argv)


def systemd_environment(assignment):
    """A VAR=value pair as one quoted word of an Environment= line."""
    text = to_text(assignment)
    if "=" not in text or not text.split("=", 1)[0].replace("_", "a").isalnum():
        raise AnsibleFilterError("systemd_environment expects NAME=value, got %r" % (assignment,))
    return quote_argument(text, expand_variables=False)


def systemd_service_units(services):
    """The role's services as unit names (systemd/files.py, service_unit)."""
    if not isinstance(services, (list, tuple)):
        raise AnsibleFilterError("systemd_service_units expects a list of services, got %r" % (services,))
    return [service_unit(to_text(service)) for service in services]


class FilterModule(object):
    def filters(self):
        return {"systemd_exec": systemd_exec, "systemd_environment": systemd_environment,
                "systemd_service_units": systemd_service_units}
