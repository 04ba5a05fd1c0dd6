# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path manager through pyroute2's generic netlink socket (`pyroute2.MPTCP`), without
a process per call.

Every message is built here rather than through `MPTCP.endpoint()`, because of its traps
(pyroute2 0.5.19 to 0.9.x): it cannot send SET_FLAGS at all; `del` by address without an
id succeeds and deletes nothing (we always delete by id); `if_idx` is typed as a string
(we pack it with struct and unpack the '03:00:00:00' it dumps back); `netns=` only exists
from 0.9.3 and, left at its default flags, silently creates a missing namespace (we open
the socket inside the namespace ourselves, see netns.py, so every version works the same
and nothing is ever created). PORT is sent in host order, whatever the spec says."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import os
import re
import socket
import struct
from importlib.util import find_spec

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.netns import NetnsContext
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    Capabilities,
    KERNEL_IN_PLACE_FLAGS,
    USER_FLAGS,
    bits_from_flags,
    describe_endpoint,
    flags_from_bits,
    make_endpoint,
    parse_address,
)

# linux/netlink.h
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300


class NetlinkError(Exception):
    """Stands in for pyroute2's error class until pyroute2 is loaded (see _pyroute2)."""


# pyroute2 is imported on first use, not with this file: importing it costs 80-95 ms on a
# target (Debian 12's 0.7.2, Debian 13's 0.7.7), more than the rest of a module's run, and
# `backend=auto` needs it only where `ip` cannot do what is asked (see path_manager/backend.py).
_LOADED = {}


def _pyroute2():
    """{'MPTCP', 'mptcp_msg'} from pyroute2, or {'error': why not}; pyroute2's NetlinkError
    replaces the stand-in above, for the except clauses."""
    global NetlinkError
    if not _LOADED:
        try:
            import pyroute2  # noqa: F401 (the package first: a broken one fails here)
            from pyroute2.netlink.exceptions import NetlinkError as error_class
            from pyroute2.netlink.generic.mptcp import MPTCP, mptcp_msg
        except ImportError as exc:  # missing on a target host is normal: iproute2 does the work
            _LOADED["error"] = "%s" % exc
        else:
            NetlinkError = error_class
            _LOADED.update(MPTCP=MPTCP, mptcp_msg=mptcp_msg)
    return _LOADED


CMD_ADD_ADDR, CMD_DEL_ADDR, CMD_GET_ADDR = 1, 2, 3
CMD_SET_LIMITS, CMD_GET_LIMITS, CMD_SET_FLAGS = 5, 6, 7
NLA_F_NESTED = 0x8000
PM_VERSION = 1
# pyroute2-0.7.2.dist-info, pyroute2-0.5.14-py3.6.egg-info
METADATA_DIRECTORY = re.compile(r"^pyroute2-(\d[\w.]*?)(?:-py[\d.]+)?\.(?:dist|egg)-info$")


def pyroute2_version():
    """The installed pyroute2's version read from its files (its metadata directory; else
    'unknown'), None where there is none with the MPTCP module (before 0.5.19). Nothing is
    imported: a host's tools are reported without paying for the import."""
    try:
        spec = find_spec("pyroute2")
    except (ImportError, ValueError, AttributeError):  # a package hidden or broken
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    package = list(spec.submodule_search_locations)[0]
    if not os.path.exists(os.path.join(package, "netlink", "generic", "mptcp.py")):
        return None
    for info in sorted(glob.glob(os.path.join(os.path.dirname(package), "pyroute2-*-info")), reverse=True):
        match = METADATA_DIRECTORY.match(os.path.basename(info))
        if match:
            return match.group(1)
    return "unknown"


def unusable_reason():
    """Why pyroute2 cannot drive the path manager here, or None when it can (this loads it)."""
    loaded = _pyroute2()
    if "error" in loaded:
        return ("pyroute2 with MPTCP support (0.5.19 or later) cannot be imported: %s"
                % loaded["error"])
    if not hasattr(loaded["MPTCP"], "nlm_request"):
        return "pyroute2 %s has no usable MPTCP socket" % pyroute2_version()
    return None


def pack_if_idx(index):
    return struct.pack("=i", index)


def unpack_if_idx(value):
    """IF_IDX as pyroute2 dumps it: a hex string '03:00:00:00' (or raw bytes)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = bytes(bytearray(int(byte, 16) for byte in value.split(":")))
    return struct.unpack("=i", value[:4])[0]


def address_attrs(endpoint, ifindex=0, with_id=True):
    """The nested MPTCP_PM_ATTR_ADDR attributes of an endpoint."""
    parsed = parse_address(endpoint["address"])
    if parsed.version == 4:
        attrs = [("MPTCP_PM_ADDR_ATTR_FAMILY", socket.AF_INET),
                 ("MPTCP_PM_ADDR_ATTR_ADDR4", endpoint["address"])]
    else:
        attrs = [("MPTCP_PM_ADDR_ATTR_FAMILY", socket.AF_INET6),
                 ("MPTCP_PM_ADDR_ATTR_ADDR6", endpoint["address"])]
    if with_id and endpoint["id"] is not None:
        attrs.append(("MPTCP_PM_ADDR_ATTR_ID", endpoint["id"]))
    attrs.append(("MPTCP_PM_ADDR_ATTR_FLAGS", bits_from_flags(endpoint["flags"])))
    if endpoint["port"]:
        attrs.append(("MPTCP_PM_ADDR_ATTR_PORT", endpoint["port"]))
    if ifindex:
        attrs.append(("MPTCP_PM_ADDR_ATTR_IF_IDX", pack_if_idx(ifindex)))
    return attrs


def build_message(cmd, addr_attrs=None, attrs=()):
    msg = _pyroute2()["mptcp_msg"]()
    msg["cmd"] = cmd
    msg["version"] = PM_VERSION
    msg["attrs"] = list(attrs)
    if addr_attrs is not None:
        msg["attrs"].append(("MPTCP_PM_ATTR_ADDR", {"attrs": list(addr_attrs)}, NLA_F_NESTED))
    return msg


def set_flags_message(endpoint_id, flags):
    """SET_FLAGS by id: `MPTCP.endpoint()` cannot send it, so it is built by hand."""
    return build_message(CMD_SET_FLAGS, [("MPTCP_PM_ADDR_ATTR_ID", endpoint_id),
                                         ("MPTCP_PM_ADDR_ATTR_FLAGS", bits_from_flags(flags))])


def if_index_of(msg):
    return unpack_if_idx(msg.get_attr("MPTCP_PM_ATTR_ADDR").get_attr("MPTCP_PM_ADDR_ATTR_IF_IDX"))


def endpoint_from_message(msg, names_by_index):
    addr = msg.get_attr("MPTCP_PM_ATTR_ADDR")
    address = addr.get_attr("MPTCP_PM_ADDR_ATTR_ADDR4") or addr.get_attr("MPTCP_PM_ADDR_ATTR_ADDR6")
    index = if_index_of(msg)
    dev = names_by_index.get(index, "if%d" % index) if index else None  # as iproute2 names it
    return make_endpoint(address, endpoint_id=addr.get_attr("MPTCP_PM_ADDR_ATTR_ID"),
                         port=addr.get_attr("MPTCP_PM_ADDR_ATTR_PORT"), dev=dev,
                         flags=flags_from_bits(addr.get_attr("MPTCP_PM_ADDR_ATTR_FLAGS") or 0))


def _errno_text(code):
    return "%s (%s)" % (os.strerror(code), errno.errorcode.get(code, code))


class Pyroute2Backend:
    name = "pyroute2"

    def __init__(self, netns=None, netns_file=None):
        """netns_file: the namespace's bind mount, where the caller resolved it already."""
        reason = unusable_reason()
        if reason:
            raise MptcpError(reason)
        self.netns = netns
        self._context = NetnsContext(netns, netns_file)  # checks that the namespace exists
        with self._context:
            try:
                self._sock = _pyroute2()["MPTCP"]()
            except NetlinkError as exc:
                if exc.code == errno.ENOENT:
                    raise MptcpError("this kernel has no MPTCP path manager (generic netlink "
                                     "family mptcp_pm not found): is it built with CONFIG_MPTCP?")
                raise MptcpError("cannot open the MPTCP path manager: %s" % _errno_text(exc.code))

    def close(self):
        sock, self._sock = getattr(self, "_sock", None), None
        if sock is not None:
            sock.close()

    def _request(self, msg, flags, what):
        try:
            return list(self._sock.nlm_request(msg, msg_type=self._sock.prid, msg_flags=flags))
        except NetlinkError as exc:
            raise MptcpError("%s failed: the kernel said %s" % (what, _errno_text(exc.code)))

    def version(self):
        return "pyroute2 %s" % pyroute2_version()

    def capabilities(self):
        # The kernel takes any flag bit (and silently drops those it does not know: the
        # dump after applying tells).
        return Capabilities(USER_FLAGS, KERNEL_IN_PLACE_FLAGS, self.version())

    # --- reading ----------------------------------------------------------------------------
    def _interfaces(self):
        with self._context:
            return dict(socket.if_nameindex())

    def links(self):
        return set(self._interfaces().values())

    def read_limits(self):
        (reply,) = self._request(build_message(CMD_GET_LIMITS), NLM_F_REQUEST, "reading the MPTCP limits")
        return {"subflows": reply.get_attr("MPTCP_PM_ATTR_SUBFLOWS"),
                "add_addr_accepted": reply.get_attr("MPTCP_PM_ATTR_RCV_ADD_ADDRS")}

    def read_endpoints(self):
        replies = self._request(build_message(CMD_GET_ADDR), NLM_F_REQUEST | NLM_F_DUMP,
                                "reading the MPTCP endpoints")
        # Interface names only when an endpoint has a dev: entering the namespace costs.
        names = self._interfaces() if any(if_index_of(msg) for msg in replies) else {}
        return [endpoint_from_message(msg, names) for msg in replies]

    # --- writing ----------------------------------------------------------------------------
    def set_limits(self, limits):
        self._request(build_message(CMD_SET_LIMITS, attrs=[
            ("MPTCP_PM_ATTR_RCV_ADD_ADDRS", limits["add_addr_accepted"]),
            ("MPTCP_PM_ATTR_SUBFLOWS", limits["subflows"])]),
            NLM_F_REQUEST | NLM_F_ACK, "setting the MPTCP limits")

    def add_endpoint(self, endpoint):
        ifindex = 0
        if endpoint["dev"]:
            by_name = dict((name, index) for index, name in self._interfaces().items())
            if endpoint["dev"] not in by_name:
                raise MptcpError("adding endpoint %s failed: dev %s does not exist"
                                 % (describe_endpoint(endpoint), endpoint["dev"]))
            ifindex = by_name[endpoint["dev"]]
        self._request(build_message(CMD_ADD_ADDR, address_attrs(endpoint, ifindex)),
                      NLM_F_REQUEST | NLM_F_ACK, "adding endpoint " + describe_endpoint(endpoint))

    def delete_endpoint(self, endpoint):
        self._request(build_message(CMD_DEL_ADDR, [("MPTCP_PM_ADDR_ATTR_ID", endpoint["id"])]),
                      NLM_F_REQUEST | NLM_F_ACK, "deleting endpoint " + describe_endpoint(endpoint))

    def set_endpoint_flags(self, endpoint, flags):
        self._request(set_flags_message(endpoint["id"], flags), NLM_F_REQUEST | NLM_F_ACK,
                      "changing the flags of endpoint " + describe_endpoint(endpoint))
