# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel path manager's data as the modules see it: endpoints and limits, flag names
and bits, normalisation (so that state is compared, never strings) and the static
validation of every input.

An endpoint is a plain dict: id (int, None while the kernel has not numbered it yet),
address (compressed text form), port (int or None), dev (interface name or None) and
flags (names, in bit order)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible.module_utils.common.validation import check_type_int

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError

# MPTCP_PM_ADDR_FLAG_* in bit order (include/uapi/linux/mptcp.h).
FLAG_BITS = (
    ("signal", 0x1),
    ("subflow", 0x2),
    ("backup", 0x4),
    ("fullmesh", 0x8),
    ("implicit", 0x10),
    ("laminar", 0x20),
)
FLAG_NAMES = tuple(name for name, _bit in FLAG_BITS)
# What a user may ask for: `implicit` is set by the kernel only.
USER_FLAGS = ("signal", "subflow", "backup", "fullmesh", "laminar")
# What SET_FLAGS changes on an existing endpoint. Seen on Linux 6.18: backup and fullmesh
# change in place; laminar does not (the kernel silently keeps the old value), so a
# laminar change is a delete and add like signal and subflow.
KERNEL_IN_PLACE_FLAGS = frozenset(("backup", "fullmesh"))


class Capabilities:
    """What a backend can ask of the kernel: the flags it can set when adding, and the
    flags it can change in place (empty: every flag change is a delete and add)."""

    def __init__(self, settable_flags, in_place_flags, description):
        self.settable_flags = frozenset(settable_flags)
        self.in_place_flags = frozenset(in_place_flags)
        self.description = description


MAX_ENDPOINTS = 8  # MPTCP_PM_ADDR_MAX: the ninth endpoint gets ERANGE
MAX_LIMIT = 8  # MPTCP_PM_ADDR_MAX again: a larger limit gets EINVAL
ID_MIN, ID_MAX = 1, 255  # id 0 asks the kernel to choose one
LIMIT_NAMES = ("subflows", "add_addr_accepted")
ENDPOINT_FIELDS = ("id", "address", "port", "dev", "flags")


def flags_from_bits(bits):
    """Names of the bits set, in bit order; a bit no name is known for shows as hex, so
    that nothing the kernel reports is hidden."""
    names = []
    for name, bit in FLAG_BITS:
        if bits & bit:
            names.append(name)
            bits &= ~bit
    position = 0
    while bits:
        if bits & 1:
            names.append("0x%x" % (1 << position))
        bits >>= 1
        position += 1
    return names


def bits_from_flags(names):
    bits = 0
    table = dict(FLAG_BITS)
    for name in names:
        if name in table:
            bits |= table[name]
        elif name.startswith("0x"):
            bits |= int(name, 16)
        else:
            raise ValueError("unknown flag %r" % name)
    return bits


def sort_flags(names):
    """Flag names, deduplicated, in bit order."""
    return flags_from_bits(bits_from_flags(names))


def parse_address(text):
    return ipaddress.ip_address(u"%s" % text)


def make_endpoint(address, endpoint_id=None, port=None, dev=None, flags=()):
    return {
        "id": endpoint_id,
        "address": parse_address(address).compressed,
        "port": port or None,
        "dev": dev or None,
        "flags": sort_flags(flags),
    }


def endpoint_key(endpoint):
    """The identity of an endpoint, as the kernel sees duplicates: its address and port."""
    return (endpoint["address"], endpoint.get("port") or 0)


def _address_order(address):
    parsed = parse_address(address)
    return (parsed.version, int(parsed))


def key_order(endpoint):
    return _address_order(endpoint["address"]) + (endpoint.get("port") or 0,)


def sort_endpoints(endpoints):
    """By id as `ip mptcp endpoint show` lists them; endpoints the kernel has yet to number
    go last, by address."""
    return sorted(endpoints, key=lambda e: (e["id"] is None, e["id"] or 0) + key_order(e))


def describe_endpoint(endpoint):
    """One line in the words of `ip mptcp endpoint show`."""
    words = [endpoint["address"]]
    if endpoint.get("port"):
        words += ["port", str(endpoint["port"])]
    if endpoint.get("id") is not None:
        words += ["id", str(endpoint["id"])]
    words += list(endpoint["flags"])
    if endpoint.get("dev"):
        words += ["dev", endpoint["dev"]]
    return " ".join(words)


def describe_flags(names):
    return " ".join(names) if names else "(none)"


def is_implicit(endpoint):
    return "implicit" in endpoint["flags"]


# --- validation of the inputs, before anything is read or touched -------------------------

def _check_int(label, value, low, high, rule):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError("%s=%r is out of range: %s" % (label, value, rule))


def validate_limits_option(value, label="limits"):
    """The `limits` option of mptcp_path_manager ({subflows, add_addr_accepted}, either left
    out) -> the limits asked for. It is checked here rather than by Ansible's suboptions,
    which meet a number or a boolean with a traceback (ansible-core 2.18, set_fallbacks)."""
    if not isinstance(value, dict):
        raise ValidationError("%s=%r must be a dict with subflows and/or add_addr_accepted" % (label, value))
    unknown = ["%s.%s" % (label, key) for key in sorted("%s" % key for key in value) if key not in LIMIT_NAMES]
    if unknown:
        raise ValidationError("%s: not a limit (the limits are %s)" % (", ".join(unknown), ", ".join(LIMIT_NAMES)))
    given = {}
    for name in LIMIT_NAMES:
        number = value.get(name)
        try:  # a templated number arrives as a string ("1"): taken as Ansible's int options take it
            number = None if number is None else check_type_int(number)
        except TypeError:
            pass  # validate_limits names it
        given[name] = number
    return validate_limits(label=label + ".", **given)


def validate_limits(subflows=None, add_addr_accepted=None, label=""):
    """The limits asked for ({name: value}, only those given); label prefixes the names in
    errors (`limits.`)."""
    wanted = {}
    for name, value in (("subflows", subflows), ("add_addr_accepted", add_addr_accepted)):
        if value is None:
            continue
        _check_int(label + name, value, 0, MAX_LIMIT,
                   "the kernel accepts 0 to %d (it rejects larger limits)" % MAX_LIMIT)
        wanted[name] = value
    return wanted


def _validate_address(label, value):
    try:
        if "%" in value:  # Python >= 3.9 parses a zone (fe80::1%eth0); the kernel takes none
            raise ValueError(value)
        return parse_address(value).compressed
    except (ValueError, TypeError):
        raise ValidationError(
            "%s=%r is not an IPv4 or IPv6 address (give the address alone, without a "
            "prefix length or zone)" % (label, value))


def _validate_flags(label, value):
    if not isinstance(value, (list, tuple)):
        raise ValidationError("%s=%r must be a list of flag names" % (label, value))
    for name in value:
        if name == "implicit":
            raise ValidationError(
                "%s: flag 'implicit' is set by the kernel only (on addresses it uses without an "
                "endpoint); never ask for it" % label)
        if name not in USER_FLAGS:
            raise ValidationError("%s: flag %r is unknown; the flags are %s"
                                  % (label, name, ", ".join(USER_FLAGS)))
    names = sort_flags(value)
    if "signal" in names and "fullmesh" in names:
        raise ValidationError(
            "%s=%s: signal and fullmesh cannot be combined (the kernel rejects it: fullmesh "
            "applies to subflows this host opens)" % (label, names))
    return names


def _validate_dev(label, value):
    # The rules of the kernel's dev_valid_name(): at most 15 bytes, no '/', ':' or space.
    if (not isinstance(value, str) or not value or len(value.encode("utf-8")) > 15
            or value in (".", "..") or any(c in value for c in "/: \t\n")):
        raise ValidationError("%s=%r is not a valid interface name" % (label, value))
    return value


def check_port_flags(label, port, flags):
    """The kernel takes a port only on a signal endpoint without subflow (EINVAL "flags
    must have signal and not subflow when using port", seen on Linux 6.18)."""
    if port and ("signal" not in flags or "subflow" in flags):
        raise ValidationError(
            "%sport=%d needs the signal flag and no subflow flag (a port is announced to the "
            "peer; the kernel rejects a port on an endpoint without signal or with subflow)"
            % (label, port))


def validate_endpoint(spec, state, label):
    """One endpoint asked for, normalised; a field left out is None ("left as it is" on an
    existing endpoint, the kernel default on a new one)."""
    wanted = dict((field, None) for field in ENDPOINT_FIELDS)
    if spec.get("address") is not None:
        wanted["address"] = _validate_address(label + "address", spec["address"])
    if spec.get("id") is not None:
        _check_int(label + "id", spec["id"], ID_MIN, ID_MAX,
                   "endpoint ids are %d to %d" % (ID_MIN, ID_MAX))
        wanted["id"] = spec["id"]
    if spec.get("port") is not None:
        _check_int(label + "port", spec["port"], 1, 65535, "a port is 1 to 65535")
        wanted["port"] = spec["port"]
    if spec.get("dev") is not None:
        wanted["dev"] = _validate_dev(label + "dev", spec["dev"])
    if spec.get("flags") is not None:
        wanted["flags"] = _validate_flags(label + "flags", spec["flags"])

    if state == "present":
        if wanted["address"] is None:
            raise ValidationError("%saddress is required with state=present" % label)
        if wanted["port"] is not None and wanted["flags"] is not None:
            check_port_flags(label, wanted["port"], wanted["flags"])
    elif wanted["address"] is None and wanted["id"] is None:
        raise ValidationError("%saddress or id is required with state=absent" % label)
    return wanted


def validate_endpoints(specs, state, labelled=True):
    """All endpoints asked for; also rejects one endpoint or one id listed twice."""
    wanted = []
    seen_keys, seen_ids = {}, {}
    for index, spec in enumerate(specs):
        label = "endpoints[%d]." % index if labelled else ""
        if not isinstance(spec, dict):
            raise ValidationError("%s%r must be a dict" % (label, spec))
        item = validate_endpoint(spec, state, label)
        item["label"] = label  # names this entry in the errors found later, against the state
        if item["address"] is not None:
            key = (item["address"], item["port"] or 0)
            if key in seen_keys and state == "present":
                raise ValidationError("%saddress %s%s is listed twice (also %s)" % (
                    label, item["address"], " port %d" % item["port"] if item["port"] else "",
                    seen_keys[key]))
            seen_keys[key] = label.rstrip(".") or "above"
        if item["id"] is not None:
            if item["id"] in seen_ids and state == "present":
                raise ValidationError("%sid %d is listed twice (also %s)"
                                      % (label, item["id"], seen_ids[item["id"]]))
            seen_ids[item["id"]] = label.rstrip(".") or "above"
        wanted.append(item)
    return wanted
