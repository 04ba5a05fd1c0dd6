# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""net.ipv4.conf.IFACE.rp_filter: the one key outside net.mptcp that mptcp_sysctl takes,
since a strict reverse-path filter drops the subflows whose packets come back on another
interface, and the role sets it beside net.mptcp in the same file.

The kernel filters with max(net.ipv4.conf.all.rp_filter, net.ipv4.conf.IFACE.rp_filter):
0 off, 1 strict, 2 loose (Documentation/networking/ip-sysctl.rst). Keys are kept in the
dotted form systemd-sysctl and procps read, where an interface's own dots are slashes
(net.ipv4.conf.eth0/100.rp_filter is /proc/sys/net/ipv4/conf/eth0.100/rp_filter)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.proc_paths import under_root

# The interfaces' IPv4 settings, of the caller's network namespace.
IPV4_CONF_DIR = "proc/sys/net/ipv4/conf"
OFF, STRICT, LOOSE = 0, 1, 2
CHOICES = (OFF, STRICT, LOOSE)
# The entries of net.ipv4.conf that are not interfaces.
NOT_INTERFACES = ("all", "default")

_DOTTED = re.compile(r"^net\.ipv4\.conf\.(?P<iface>.+)\.rp_filter$")
_SLASHED = re.compile(r"^net/ipv4/conf/(?P<iface>[^/]+)/rp_filter$")
# The kernel's dev_valid_name: 1 to 15 bytes, no '/', ':' or white space, not . or ..
_IFACE = re.compile(r"^[^/:\s]{1,15}$")


def key_of(iface):
    """The dotted key of an interface's rp_filter."""
    return "net.ipv4.conf.%s.rp_filter" % iface.replace(".", "/")


def iface_of(key):
    """The interface of a key in the form key_of() gives, or None for any other key."""
    match = _DOTTED.match(key)
    return match.group("iface").replace("/", ".") if match else None


def is_rp_filter_key(key):
    return iface_of(key) is not None


def parse_key(name):
    """A name the user gave (net.ipv4.conf.eth1.rp_filter, net/ipv4/conf/eth0.100/rp_filter,
    or net.ipv4.conf.eth0/100.rp_filter) -> its key as key_of() gives it, or None when the
    name is not an rp_filter key; a ValidationError when the interface part cannot be an
    interface name."""
    text = name.strip()
    match = _SLASHED.match(text) or _DOTTED.match(text)
    if not match:
        return None
    iface = match.group("iface").replace("/", ".") if match.re is _DOTTED else match.group("iface")
    if not _IFACE.match(iface) or iface in (".", ".."):
        raise ValidationError("setting name %r: %r is not an interface name (1 to 15 characters, "
                              "no '/', ':' or white space)" % (name, iface))
    return key_of(iface)


def proc_path(key, root="/"):
    return os.path.join(under_root(IPV4_CONF_DIR, root), iface_of(key), "rp_filter")


def read_values(root="/"):
    """{entry: value} of every rp_filter under /proc/sys/net/ipv4/conf of the caller's
    network namespace (the interfaces, and `all` and `default`); {} without IPv4."""
    directory = under_root(IPV4_CONF_DIR, root)
    values = {}
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
        path = os.path.join(directory, name, "rp_filter")
        try:
            with open(path) as handle:
                values[name] = int(handle.read().strip())
        except (IOError, OSError) as error:
            if os.path.exists(path):
                raise MptcpError("cannot read %s: %s" % (path, error))
        except ValueError:
            raise MptcpError("%s holds no number" % path)
    return values


def effective(all_value, dev_value):
    """What the kernel applies to an interface: the stricter-looking number wins, so
    all=1 with dev=2 is loose, all=2 with dev=1 is loose too, all=1 with dev=0 strict."""
    return max(all_value, dev_value)


def report(values):
    """{iface: {all, dev, effective, strict}} of each interface in `values` (read_values)."""
    all_value = values.get("all", OFF)
    result = {}
    for name, value in values.items():
        if name in NOT_INTERFACES:
            continue
        value_in_effect = effective(all_value, value)
        result[name] = {"all": all_value, "dev": value, "effective": value_in_effect,
                        "strict": value_in_effect == STRICT}
    return result
