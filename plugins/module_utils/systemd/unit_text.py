# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Values written into systemd unit files safely: each argument of an ExecStart= line and
each Environment= assignment one quoted word, escaped for systemd's parser (the role's
boot unit and drop-ins, and the filters systemd_exec and systemd_environment)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError


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


def exec_line(argv):
    """An ExecStart= value: the absolute command and its arguments, each quoted."""
    if not isinstance(argv, (list, tuple)) or not argv:
        raise ValidationError("systemd_exec expects a non-empty list of arguments, got %r" % (argv,))
    if not to_text(argv[0]).startswith("/"):
        raise ValidationError("systemd_exec: the command must be an absolute path, got %r" % (argv[0],))
    # systemd takes the first word unquoted as the path; quoting it too is allowed.
    return " ".join(quote_argument(arg) for arg in argv)


def environment_word(assignment):
    """A VAR=value pair as one quoted word of an Environment= line."""
    text = to_text(assignment)
    if "=" not in text or not text.split("=", 1)[0].replace("_", "a").isalnum():
        raise ValidationError("systemd_environment expects NAME=value, got %r" % (assignment,))
    return quote_argument(text, expand_variables=False)
