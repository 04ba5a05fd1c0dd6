# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MPTCP sockets of a namespace, as `ss -H -Mnai` lists them (iproute2 5.9 and later).

Each socket is a line `STATE RECV-Q SEND-Q LOCAL PEER` followed by an indented line of
MPTCP_INFO fields that ss prints only when they are not zero (`subflows:1 ... token:..`;
`fallback` when the connection fell back to TCP). `subflows` counts the extra subflows,
as MPTCP_INFO does: a connection with one join has two paths and `subflows: 1`."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError

# The numbers ss prints (misc/ss.c, mptcp_stats_print); absent means 0.
COUNTS = ("subflows", "subflows_max", "add_addr_signal", "add_addr_accepted",
          "add_addr_signal_max", "add_addr_accepted_max")


def split_address(text):
    """`10.0.0.1:80`, `[2001:db8::1]:80`, `10.0.0.1%eth1:80`, `0.0.0.0:*` ->
    {address, port (None for *), dev (None unless bound to one)}."""
    address, _colon, port = text.rpartition(":")
    if address.startswith("["):
        address = address[1:].split("]")[0] + address.split("]")[1]
    address, _percent, dev = address.partition("%")
    return {"address": address, "port": int(port) if port.isdigit() else None, "dev": dev or None}


def parse_info(line):
    words = line.split()
    values = dict(word.split(":", 1) for word in words if ":" in word)
    info = dict((name, int(values.get(name, "0"))) for name in COUNTS)
    info["token"] = values.get("token")
    info["fallback"] = "fallback" in words
    return info


def parse_sockets(text):
    """`ss -H -Mnai` output -> a list of sockets (dicts: state, local, remote, subflows,
    token, fallback and the other MPTCP_INFO counts)."""
    sockets = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            if sockets:
                sockets[-1].update(parse_info(line))
            continue
        fields = line.split()
        if len(fields) < 5:
            raise MptcpError("cannot read this line of `ss -Mnai`: %r" % line)
        entry = {"state": fields[0], "local": split_address(fields[3]), "remote": split_address(fields[4])}
        entry.update(parse_info(""))
        sockets.append(entry)
    return sockets


def read_sockets(run, ss_path, netns=None):
    argv = [ss_path] + (["-N", netns] if netns else []) + ["-H", "-M", "-n", "-a", "-i"]
    rc, out, err = run(argv)
    if rc != 0:
        message = (err or out or "").strip()
        if re.search(r"invalid option|unrecognized option", message):
            message = "this ss has no -M (MPTCP sockets need iproute2 5.9 or later): " + message
        raise MptcpError("`%s` failed: %s" % (" ".join(argv), message or "exit status %d" % rc))
    return parse_sockets(out)
