# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path manager through `ip [-n NS] mptcp ...`: argument lists (never a shell), a
parseable locale, JSON where iproute2 has it (`endpoint show`) and text where it has not
(`limits show` prints text even with -j, in 6.1 and 6.15).

What this iproute2 knows is probed from its own usage text (`ip mptcp help`), never from
its version number: `endpoint change` and fullmesh came in 5.17/5.18, laminar in 6.19, and
distributions backport."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import (
    Capabilities,
    FLAG_NAMES,
    KERNEL_IN_PLACE_FLAGS,
    LIMIT_NAMES,
    USER_FLAGS,
    bits_from_flags,
    describe_endpoint,
    flags_from_bits,
    make_endpoint,
)


def explain_error(text):
    """iproute2 prints the kernel's refusal as a negative errno (`...: -99.`): name it."""
    match = re.search(r"-(\d+)\.?$", text)
    if not match:
        return text
    code = int(match.group(1))
    return "%s (%s: %s)" % (text.rstrip("."), errno.errorcode.get(code, code), os.strerror(code))


def parse_usage(text):
    """What `ip mptcp help` says this iproute2 can do: None when it has no `ip mptcp`,
    else {'flags': names it accepts when adding, 'change': the CHANGE-OPT words (empty
    when there is no `endpoint change`)}."""
    if "ip mptcp endpoint" not in text:
        return None
    flags_line = re.search(r"^FLAG\s*:=\s*\[(.*)\]", text, re.MULTILINE)
    flags = set(re.findall(r"[a-z]+", flags_line.group(1))) if flags_line else set()
    change = set()
    if "endpoint change" in text:
        change_line = re.search(r"^CHANGE-OPT\s*:=\s*\[(.*)\]", text, re.MULTILINE)
        change = set(re.findall(r"[a-z]+", change_line.group(1))) if change_line else set()
    return {"flags": flags, "change": change}


def parse_limits(text):
    """`add_addr_accepted 0 subflows 2` -> {'add_addr_accepted': 0, 'subflows': 2}."""
    words = text.split()
    values = {}
    for name, value in zip(words[0::2], words[1::2]):
        if value.isdigit():
            values[name] = int(value)
    if "subflows" not in values or "add_addr_accepted" not in values:
        raise MptcpError("cannot read the limits from `ip mptcp limits show`: %r" % text)
    return {"subflows": values["subflows"], "add_addr_accepted": values["add_addr_accepted"]}


def endpoint_list_json(text):
    """The list `ip -j mptcp endpoint show` prints. iproute2 5.9 (Debian 11) closes it with
    `}` where `]` belongs (`[{...},{...}}`, and `[}` with no endpoint; seen): that is read
    as the list it opened."""
    text = text.strip()
    if not text:
        return []
    try:
        return json.loads(text)
    except ValueError:
        if text.startswith("[") and text.endswith("}"):
            try:
                return json.loads(text[:-1] + "]")
            except ValueError:
                pass
        raise MptcpError("cannot read `ip -j mptcp endpoint show` output as JSON: %r" % text[:200])


def parse_endpoints(text):
    """`ip -j mptcp endpoint show` -> endpoints. Flags come as `"name": true`; the bits
    this iproute2 has no name for come as `"rawflags": "20"` (hex)."""
    entries = endpoint_list_json(text)
    endpoints = []
    for entry in entries:
        names = [name for name in FLAG_NAMES if entry.get(name) is True]
        bits = bits_from_flags(names) | int(entry.get("rawflags", "0"), 16)
        endpoints.append(make_endpoint(entry["address"], endpoint_id=entry.get("id"),
                                       port=entry.get("port"), dev=entry.get("dev"),
                                       flags=flags_from_bits(bits)))
    return endpoints


class Iproute2Backend:
    name = "iproute2"

    def __init__(self, run, ip_path, netns=None):
        self._run = run
        self._ip = ip_path
        self.netns = netns
        self._usage = None
        self._version = None

    def close(self):
        pass

    def _argv(self, args):
        prefix = [self._ip] + (["-n", self.netns] if self.netns else [])
        return prefix + list(args)

    def _call(self, args, what):
        argv = self._argv(args)
        rc, out, err = self._run(argv)
        if rc != 0:
            if 'Object "mptcp" is unknown' in (err or out or ""):
                self.usage()  # fails, saying that this iproute2 has no `ip mptcp`
            raise MptcpError("%s failed: `%s` said: %s" % (
                what, " ".join(argv), explain_error((err or out).strip()) or "exit status %d" % rc))
        return out

    # --- what this iproute2 knows ---------------------------------------------------------
    def version(self):
        if self._version is None:
            _rc, out, err = self._run([self._ip, "-V"])
            self._version = (out or err).strip()
        return self._version

    def usage(self):
        if self._usage is None:
            # `ip mptcp help` prints the usage on stderr and exits 255.
            _rc, out, err = self._run([self._ip, "mptcp", "help"])
            usage = parse_usage((err or "") + (out or ""))
            if usage is None:
                raise MptcpError("%s has no `ip mptcp` (it came in iproute2 5.8): use "
                                 "backend=pyroute2 or install a newer iproute2" % self.version())
            self._usage = usage
        return self._usage

    def capabilities(self):
        usage = self.usage()
        settable = set(USER_FLAGS) & usage["flags"]
        # SET_FLAGS replaces backup and fullmesh together, so in place needs both words.
        wanted_words = set()
        for name in KERNEL_IN_PLACE_FLAGS:
            wanted_words |= set((name, "no" + name))
        in_place = KERNEL_IN_PLACE_FLAGS if wanted_words <= usage["change"] else ()
        return Capabilities(settable, in_place, "this iproute2 (%s)" % self.version())

    # --- reading ----------------------------------------------------------------------------
    def read_limits(self):
        return parse_limits(self._call(["mptcp", "limits", "show"], "reading the MPTCP limits"))

    def read_endpoints(self):
        return parse_endpoints(self._call(["-j", "mptcp", "endpoint", "show"], "reading the MPTCP endpoints"))

    def links(self):
        out = self._call(["-j", "link", "show"], "listing the interfaces")
        try:
            return set(link["ifname"] for link in json.loads(out))
        except (ValueError, KeyError, TypeError):
            raise MptcpError("cannot read `ip -j link show` output: %r" % out[:200])

    # --- writing ----------------------------------------------------------------------------
    # The argument lists are static: the boot unit of the role runs the same commands
    # (plugins/filter/boot_commands.py).
    FLUSH_ARGS = ("mptcp", "endpoint", "flush")

    @staticmethod
    def limits_args(limits):
        """`ip mptcp limits set` for the limits given; one left out (None) keeps its value."""
        args = ["mptcp", "limits", "set"]
        for name in LIMIT_NAMES:
            if limits.get(name) is not None:
                args += [name, str(limits[name])]
        return args

    def set_limits(self, limits):
        self._call(self.limits_args(limits), "setting the MPTCP limits")

    @staticmethod
    def add_args(endpoint):
        args = ["mptcp", "endpoint", "add", endpoint["address"]]
        if endpoint["dev"]:
            args += ["dev", endpoint["dev"]]
        if endpoint["id"] is not None:
            args += ["id", str(endpoint["id"])]
        if endpoint["port"]:
            args += ["port", str(endpoint["port"])]
        return args + list(endpoint["flags"])

    def add_endpoint(self, endpoint):
        self._call(self.add_args(endpoint), "adding endpoint " + describe_endpoint(endpoint))

    def delete_endpoint(self, endpoint):
        self._call(["mptcp", "endpoint", "delete", "id", str(endpoint["id"])],
                   "deleting endpoint " + describe_endpoint(endpoint))

    @staticmethod
    def change_args(endpoint_id, flags):
        words = [name if name in flags else "no" + name for name in sorted(KERNEL_IN_PLACE_FLAGS)]
        return ["mptcp", "endpoint", "change", "id", str(endpoint_id)] + words

    def set_endpoint_flags(self, endpoint, flags):
        self._call(self.change_args(endpoint["id"], flags),
                   "changing the flags of endpoint " + describe_endpoint(endpoint))
