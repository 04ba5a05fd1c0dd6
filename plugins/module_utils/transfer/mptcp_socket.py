# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MPTCP sockets from the standard library alone: the protocol numbers, opening a socket
with a message that says why the kernel refused, and what a socket tells about itself
(SO_PROTOCOL, TCP_IS_MPTCP, MPTCP_INFO, and its subflows one by one with
MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS).

Python gained socket.IPPROTO_MPTCP only in 3.10, so the numbers are the kernel's own
(include/uapi/linux/in.h, mptcp.h, tcp.h, asm-generic/socket.h); they never change."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import os
import socket
import struct

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError

IPPROTO_MPTCP = 262
IPPROTO_TCP = 6
SOL_MPTCP = 284
MPTCP_INFO = 1
MPTCP_TCPINFO = 2  # 5.16+: a struct tcp_info per subflow
MPTCP_SUBFLOW_ADDRS = 3  # 5.16+: local and remote sockaddr_storage per subflow
TCP_IS_MPTCP = 43  # getsockopt(IPPROTO_TCP): 1 on a socket that talks MPTCP (6.10+)
SO_PROTOCOL = 38

PROTOCOLS = {"mptcp": IPPROTO_MPTCP, "tcp": IPPROTO_TCP}
PROTOCOL_NAMES = {IPPROTO_MPTCP: "mptcp", IPPROTO_TCP: "tcp"}

INFO_FLAG_FALLBACK = 0x1
INFO_FLAG_REMOTE_KEY_RECEIVED = 0x2

# struct mptcp_info (include/uapi/linux/mptcp.h): (name, struct format, offset), grown
# over releases; the kernel copies min(its size, ours), so a field counts only when the
# returned length covers it. 5.9: up to rcv_nxt; 5.12: local_addr_*; 5.14: csum_enabled;
# 6.5: retransmits and byte counts; 6.8: subflows_total; 6.10: last_* (ms ago); 6.18
# took one reserved byte for endp_laminar_max.
MPTCP_INFO_FIELDS = (
    ("subflows", "B", 0),  # extra subflows, the initial one not counted
    ("add_addr_signal", "B", 1),
    ("add_addr_accepted", "B", 2),
    ("subflows_max", "B", 3),
    ("add_addr_signal_max", "B", 4),
    ("add_addr_accepted_max", "B", 5),
    ("flags", "I", 8),
    ("token", "I", 12),
    ("write_seq", "Q", 16),
    ("snd_una", "Q", 24),
    ("rcv_nxt", "Q", 32),
    ("local_addr_used", "B", 40),
    ("local_addr_max", "B", 41),
    ("csum_enabled", "B", 42),
    ("retransmits", "I", 44),
    ("bytes_retrans", "Q", 48),
    ("bytes_sent", "Q", 56),
    ("bytes_received", "Q", 64),
    ("bytes_acked", "Q", 72),
    ("subflows_total", "B", 80),
    ("last_data_sent", "I", 84),
    ("last_data_recv", "I", 88),
    ("last_ack_recv", "I", 92),
)
MPTCP_INFO_SIZE = 96
# struct mptcp_subflow_data: the header of MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS, which
# says how big each element is on both sides; then the elements.
SUBFLOW_DATA = struct.Struct("=IIII")  # size_subflow_data, num_subflows, size_kernel, size_user
# struct tcp_info (include/uapi/linux/tcp.h) as far as it is read here: tcpi_state is its
# first byte; the byte counters came in 4.1 (acked, received) and 4.19 (sent, which counts
# retransmissions too). A field counts only when the kernel's answer covers it.
TCP_INFO_SIZE = 216
TCP_INFO_HEAD = 8  # the least an answer holds: tcpi_state and the other u8 fields
TCP_INFO_BYTES = (("bytes_acked", 120), ("bytes_received", 128), ("bytes_sent", 200), ("bytes_retrans", 208))
SOCKADDR_STORAGE = 128
MAX_SUBFLOWS = 16  # the kernel path manager allows 8 extra ones
TCP_STATES = {1: "established", 2: "syn_sent", 3: "syn_recv", 4: "fin_wait1", 5: "fin_wait2", 6: "time_wait",
              7: "close", 8: "close_wait", 9: "last_ack", 10: "listen", 11: "closing"}
# What the kernel answers on a socket that is not (or no longer) MPTCP.
_NOT_MPTCP = (errno.EOPNOTSUPP, errno.ENOPROTOOPT, errno.EINVAL)


def parse_mptcp_info(data):
    """The bytes of getsockopt(SOL_MPTCP, MPTCP_INFO) -> a dict of the fields they cover
    (native byte order: the kernel writes the struct as it is in memory), plus `fallback`
    and `remote_key_received` from the flags and `subflows_count`: all subflows, the
    initial one included (subflows_total on 6.8+, else the extra ones + 1)."""
    info = {}
    for name, fmt, offset in MPTCP_INFO_FIELDS:
        if offset + struct.calcsize("=" + fmt) <= len(data):
            info[name] = struct.unpack_from("=" + fmt, data, offset)[0]
    if "flags" not in info:
        raise MptcpError("MPTCP_INFO returned %d bytes, too short to read" % len(data))
    info["fallback"] = bool(info["flags"] & INFO_FLAG_FALLBACK)
    info["remote_key_received"] = bool(info["flags"] & INFO_FLAG_REMOTE_KEY_RECEIVED)
    info["token_hex"] = "%08x" % info["token"]
    # subflows_total is 0 on a connection that is not established yet; the extra count is
    # then 0 too and "1" is what the initial subflow being set up means.
    if info.get("subflows_total"):
        info["subflows_count"] = info["subflows_total"]
    else:
        info["subflows_count"] = info["subflows"] + 1
    return info


def read_mptcp_info(sock):
    """MPTCP_INFO of `sock` parsed, or None when the socket is not MPTCP: plain TCP, or an
    MPTCP socket that fell back (the kernel then answers EOPNOTSUPP)."""
    try:
        data = sock.getsockopt(SOL_MPTCP, MPTCP_INFO, MPTCP_INFO_SIZE)
    except OSError as exc:
        if exc.errno in _NOT_MPTCP:
            return None
        raise
    return parse_mptcp_info(data)


def parse_subflow_data(data, element_size):
    """The answer of MPTCP_TCPINFO or MPTCP_SUBFLOW_ADDRS -> (number of subflows, [the
    element bytes of each subflow returned])."""
    if len(data) < SUBFLOW_DATA.size:
        raise MptcpError("the subflow data is %d bytes, shorter than its header" % len(data))
    header_size, count, _size_kernel, size_user = SUBFLOW_DATA.unpack_from(data, 0)
    size = min(size_user, element_size) or element_size
    elements = []
    offset = header_size
    while len(elements) < count and offset + size <= len(data):
        elements.append(data[offset:offset + size])
        offset += size_user
    return count, elements


def parse_sockaddr(data):
    """A struct sockaddr_storage holding sockaddr_in or sockaddr_in6 -> (address, port)."""
    family, port = struct.unpack_from("=H", data, 0)[0], struct.unpack_from(">H", data, 2)[0]
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, data[4:8]), port
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, data[8:24]), port
    return None, port


def parse_tcp_info(data):
    """A subflow's struct tcp_info (as much as the kernel returned) -> {state, and the
    byte counters it covers: bytes_sent, bytes_acked, bytes_received, bytes_retrans}."""
    info = {"state": TCP_STATES.get(data[0], str(data[0]))}
    for name, offset in TCP_INFO_BYTES:
        if offset + 8 <= len(data):
            info[name] = struct.unpack_from("=Q", data, offset)[0]
    return info


def parse_subflows(tcpinfo, addrs):
    """The answers of MPTCP_TCPINFO (with TCP_INFO_SIZE bytes per subflow) and
    MPTCP_SUBFLOW_ADDRS -> [{state, local, local_port, remote, remote_port, and the
    byte counters of parse_tcp_info}]."""
    _count, infos = parse_subflow_data(tcpinfo, TCP_INFO_SIZE)
    _count, pairs = parse_subflow_data(addrs, 2 * SOCKADDR_STORAGE)
    subflows = []
    for index, info in enumerate(infos):
        subflow = parse_tcp_info(info)
        if index < len(pairs) and len(pairs[index]) == 2 * SOCKADDR_STORAGE:
            subflow["local"], subflow["local_port"] = parse_sockaddr(pairs[index][:SOCKADDR_STORAGE])
            subflow["remote"], subflow["remote_port"] = parse_sockaddr(pairs[index][SOCKADDR_STORAGE:])
        subflows.append(subflow)
    return subflows


_LIBC = []


def _getsockopt_with_input(sock, level, name, data):
    """getsockopt() with a buffer that starts as `data`: Python's socket.getsockopt hands
    the kernel an uninitialised buffer, and these options read their header from it."""
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    buf = ctypes.create_string_buffer(bytes(data), len(data))
    length = ctypes.c_uint32(len(data))
    if _LIBC[0].getsockopt(sock.fileno(), level, name, buf, ctypes.byref(length)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return buf.raw[:length.value]


def subflow_request(element_size, count=MAX_SUBFLOWS):
    return SUBFLOW_DATA.pack(SUBFLOW_DATA.size, 0, 0, element_size) + b"\0" * (element_size * count)


def read_subflows(sock):
    """The subflows of an MPTCP socket, each with its TCP state, addresses and byte counters, or None
    when the kernel cannot tell (before 5.16, or not MPTCP). Unlike MPTCP_INFO's count,
    which includes subflows still being opened, this shows which are established."""
    try:
        tcpinfo = _getsockopt_with_input(sock, SOL_MPTCP, MPTCP_TCPINFO, subflow_request(TCP_INFO_SIZE))
        addrs = _getsockopt_with_input(sock, SOL_MPTCP, MPTCP_SUBFLOW_ADDRS, subflow_request(2 * SOCKADDR_STORAGE))
    except OSError as exc:
        if exc.errno in _NOT_MPTCP:
            return None
        raise
    return parse_subflows(tcpinfo, addrs)


def tcp_is_mptcp(sock):
    """getsockopt(IPPROTO_TCP, TCP_IS_MPTCP): True when the connection talks MPTCP, False
    when it is plain TCP or fell back; None on kernels older than 6.10, which do not know
    the option."""
    try:
        return bool(sock.getsockopt(IPPROTO_TCP, TCP_IS_MPTCP))
    except OSError as exc:
        if exc.errno in _NOT_MPTCP:
            return None
        raise


def socket_protocol(sock):
    """SO_PROTOCOL: 262 on a socket accepted from an MPTCP listener that negotiated MPTCP,
    6 on plain TCP (on the connecting side it stays what socket() asked for)."""
    return sock.getsockopt(socket.SOL_SOCKET, SO_PROTOCOL)


def explain_socket_error(exc, protocol):
    """Why socket(AF_INET*, SOCK_STREAM, protocol) failed, in words a user can act on."""
    if protocol != IPPROTO_MPTCP:
        return "cannot open a TCP socket: %s" % exc
    reasons = {
        errno.ENOPROTOOPT: "MPTCP is disabled in this network namespace (net.mptcp.enabled = 0): "
                           "enable it first (mptcp.linux.mptcp_sysctl, settings: {enabled: 1})",
        errno.EPROTONOSUPPORT: "this kernel is built without MPTCP (CONFIG_MPTCP)",
        errno.EINVAL: "this kernel is too old for MPTCP (it came in Linux 5.6)",
    }
    reason = reasons.get(exc.errno)
    if reason:
        return "cannot open an MPTCP socket: %s (%s)" % (reason, exc.strerror)
    return "cannot open an MPTCP socket: %s" % exc


def open_socket(family, protocol):
    """A SOCK_STREAM socket of `protocol` (IPPROTO_MPTCP or IPPROTO_TCP), or MptcpError
    saying why the kernel refused it."""
    try:
        return socket.socket(family, socket.SOCK_STREAM, protocol)
    except OSError as exc:
        raise MptcpError(explain_socket_error(exc, protocol))
