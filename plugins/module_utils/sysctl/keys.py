# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The net.mptcp.* keys: their names, their types and the values the kernel takes.

Every rule here was checked by writing to /proc/sys/net/mptcp in a network namespace of a
6.18 kernel. Validation is pure: it is given what the running kernel has (a RuntimeSnapshot
from sysctl/runtime.py) and touches nothing.

A key is named by its short name (enabled) for net.mptcp, and in full for the per-interface
rp_filter keys (sysctl/rp_filter.py), which are the only other keys taken."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import rp_filter

PREFIX = "net.mptcp."

INT_MAX = 2 ** 31 - 1
UINT_MAX = 2 ** 32 - 1
# add_addr_timeout and close_timeout are kept in jiffies: the kernel refuses more than
# INT_MAX / HZ seconds. HZ is 100 to 1000 and not visible from user space, so allow what
# every kernel takes (24.8 days).
JIFFIES_SECONDS_MAX = INT_MAX // 1000

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class Rule:
    """What one key takes. kind: bool (0/1), int (min..max) or choice (a word listed in
    the read-only key `choices_key`)."""

    def __init__(self, kind, since, minimum=0, maximum=None, choices_key=None, unit=None, meaning=None):
        self.kind = kind
        self.since = since
        self.minimum = minimum
        self.maximum = maximum
        self.choices_key = choices_key
        self.unit = unit
        self.meaning = meaning


RULES = {
    "enabled": Rule("bool", "5.6"),
    "add_addr_timeout": Rule("int", "5.11", maximum=JIFFIES_SECONDS_MAX, unit="seconds"),
    "checksum_enabled": Rule("bool", "5.14"),
    "allow_join_initial_addr_port": Rule("bool", "5.14"),
    "stale_loss_cnt": Rule("int", "5.15", maximum=UINT_MAX),
    "pm_type": Rule("int", "5.19", maximum=1),
    "scheduler": Rule("choice", "6.6", choices_key="available_schedulers"),
    "close_timeout": Rule("int", "6.7", maximum=JIFFIES_SECONDS_MAX, unit="seconds"),
    "blackhole_timeout": Rule("int", "6.12", maximum=INT_MAX, unit="seconds"),
    "syn_retrans_before_tcp_fallback": Rule("int", "6.14", maximum=255),
    "path_manager": Rule("choice", "6.15", choices_key="available_path_managers"),
}
RP_FILTER_RULE = Rule("int", "2.6", maximum=rp_filter.LOOSE, meaning="0 (off), 1 (strict) or 2 (loose)")
READ_ONLY = ("available_schedulers", "available_path_managers")
# pm_type is the old spelling of path_manager: the kernel keeps the two in step.
PM_TYPE_PATH_MANAGER = {0: "kernel", 1: "userspace"}

_NAME = re.compile(r"^[a-z0-9_]+$")
_WORD = re.compile(r"^[A-Za-z0-9_.-]+$")
_DECIMAL = re.compile(r"^[0-9]+$")


def rule_of(short):
    """The rule of a key, or None for a net.mptcp key newer than this module."""
    return RP_FILTER_RULE if rp_filter.is_rp_filter_key(short) else RULES.get(short)


def short_name(name):
    """`enabled`, `net.mptcp.enabled` or `net/mptcp/enabled` -> `enabled`;
    an interface's rp_filter -> its key in full (rp_filter.key_of)."""
    if not isinstance(name, str):
        raise ValidationError("setting name %r is not a string" % (name,))
    interface_key = rp_filter.parse_key(name)
    if interface_key is not None:
        return interface_key
    text = name.strip().replace("/", ".")
    if text.startswith(PREFIX):
        text = text[len(PREFIX):]
    if not _NAME.match(text):
        raise ValidationError(
            "setting name %r is not a net.mptcp key: give the name as under "
            "/proc/sys/net/mptcp/ (like enabled) or in full (like net.mptcp.enabled); "
            "the only other keys taken are net.ipv4.conf.INTERFACE.rp_filter" % (name,))
    return text


def interface_keys(settings):
    """The rp_filter keys among the names of `settings` (what the runtime snapshot must
    read besides net.mptcp); a name that is no key at all is left to validate_settings."""
    keys = []
    for name in settings if isinstance(settings, dict) else ():
        try:
            key = rp_filter.parse_key(name) if isinstance(name, str) else None
        except ValidationError:
            key = None
        if key is not None and key not in keys:
            keys.append(key)
    return keys


def full_name(short):
    return short if rp_filter.is_rp_filter_key(short) else PREFIX + short


def parse_kernel_int(text):
    """An integer as the kernel's proc handlers read it (base 0: 010 is 8, 0x10 is 16), or
    None. Used for values found in files and in /proc, never for the user's input."""
    text = text.strip()
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    try:
        if digits.lower().startswith("0x"):
            value = int(digits[2:], 16)
        elif len(digits) > 1 and digits.startswith("0"):
            value = int(digits[1:], 8)
        elif _DECIMAL.match(digits):
            value = int(digits)
        else:
            return None
    except ValueError:
        return None
    return -value if negative else value


def parse_found_value(short, text):
    """A value read from /proc or from a sysctl file, normalised like the user's input so
    the two compare; what does not parse stays a stripped string (and so differs)."""
    text = text.strip()
    rule = rule_of(short)
    if rule is not None and rule.kind == "choice":
        return text
    number = parse_kernel_int(text)
    return text if number is None else number


def _describe_rule(short, rule, kernel):
    if rule.meaning:
        return rule.meaning
    if rule.kind == "bool":
        return "0 or 1 (true/false, yes/no and on/off are taken too)"
    if rule.kind == "choice":
        return "one of %s (%s)" % (", ".join(kernel.choices(rule.choices_key)) or "nothing",
                                   rule.choices_key)
    if rule.maximum == 1:
        return "0 or 1"
    text = "an integer from %d to %d" % (rule.minimum, rule.maximum)
    return text + (" %s" % rule.unit if rule.unit else "")


def _as_int(value):
    """The user's integer: an int (not a bool) or a decimal string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        sign = -1 if text.startswith("-") else 1
        digits = text[1:] if sign < 0 else text
        if _DECIMAL.match(digits):
            return sign * int(digits)
    return None


def normalise_value(short, value, kernel):
    """The user's value for key `short`, normalised (ints as ints, words stripped), or a
    ValidationError naming the value and the rule it breaks."""
    rule = rule_of(short)
    name = full_name(short)
    if value is None:
        raise ValidationError("%s needs a value" % name)
    if isinstance(value, (list, dict, float)):
        raise ValidationError("%s=%r: a value must be a single word or integer" % (name, value))
    if rule is None:
        return _normalise_unknown(short, value, kernel)
    if rule.kind == "bool":
        if isinstance(value, bool):
            return int(value)
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return 1
        if word in FALSE_WORDS:
            return 0
    elif rule.kind == "int":
        number = _as_int(value)
        if number is not None and rule.minimum <= number <= rule.maximum:
            return number
    else:
        word = value.strip() if isinstance(value, str) else None
        if word and word in kernel.choices(rule.choices_key):
            return word
    raise ValidationError("%s=%r: must be %s" % (name, value, _describe_rule(short, rule, kernel)))


def _normalise_unknown(short, value, kernel):
    """A key newer than this module: keep the kernel's type (an integer stays an integer);
    the kernel has the last word on its range when the value is written."""
    current = kernel.values.get(short, "")
    if isinstance(parse_found_value(short, current), int):
        number = _as_int(value)
        if number is None:
            raise ValidationError("%s=%r: must be an integer (the kernel shows %s)"
                                  % (full_name(short), value, current))
        return number
    word = str(value).strip() if not isinstance(value, bool) else None
    if not word or not _WORD.match(word):
        raise ValidationError("%s=%r: must be a single word" % (full_name(short), value))
    return word


def _unknown_key_message(short, kernel):
    if rp_filter.is_rp_filter_key(short):
        iface = rp_filter.iface_of(short)
        return ("%s: there is no interface %s in this network namespace (no /proc/sys/net/ipv4/conf/%s); the "
                "interfaces are: %s" % (short, iface, iface, ", ".join(
                    name for name in kernel.interfaces if name not in rp_filter.NOT_INTERFACES) or "none"))
    text = "%s does not exist on this kernel" % full_name(short)
    rule = RULES.get(short)
    if rule is not None:
        text += " (it came with Linux %s)" % rule.since
    else:
        close = difflib.get_close_matches(short, kernel.writable(), n=1)
        if close:
            text += " (did you mean %s?)" % close[0]
    return text + "; its net.mptcp keys are: %s" % ", ".join(
        key for key in kernel.writable() if not rp_filter.is_rp_filter_key(key))


def validate_settings(settings, state, kernel, persisted=()):
    """Check every input before anything is touched; return {short name: value} with
    normalised values (None for a key state=absent drops without a value).

    kernel: a RuntimeSnapshot of /proc/sys/net/mptcp. persisted: short names in the owned
    file, which state=absent may drop even when this kernel no longer has them. All
    problems are reported together in one ValidationError."""
    if not isinstance(settings, dict):
        raise ValidationError("settings must be a dict of net.mptcp key -> value")
    errors = []
    wanted = {}
    for name in sorted(settings, key=str):
        try:
            short = short_name(name)
            if short in wanted:
                raise ValidationError("%s is given twice in settings" % full_name(short))
            if short in READ_ONLY:
                raise ValidationError("%s is read-only: it lists what the kernel offers"
                                      % full_name(short))
            value = settings[name]
            if short not in kernel.values:
                if not (state == "absent" and short in persisted):
                    raise ValidationError(_unknown_key_message(short, kernel))
                wanted[short] = None
                continue
            if state == "absent" and value is None:
                wanted[short] = None
                continue
            wanted[short] = normalise_value(short, value, kernel)
        except ValidationError as error:
            errors.append(str(error))
    if not errors and state == "present":
        errors.extend(_cross_key_errors(wanted))
    if errors:
        raise ValidationError("; ".join(errors))
    return wanted


def _cross_key_errors(wanted):
    pm_type, path_manager = wanted.get("pm_type"), wanted.get("path_manager")
    if pm_type is None or path_manager is None:
        return []
    if PM_TYPE_PATH_MANAGER.get(pm_type) == path_manager:
        return []
    return ["net.mptcp.pm_type=%s and net.mptcp.path_manager=%s disagree: the kernel keeps "
            "them in step (pm_type 0 is kernel, 1 is userspace); set only path_manager"
            % (pm_type, path_manager)]


def render_value(value):
    return str(value)
