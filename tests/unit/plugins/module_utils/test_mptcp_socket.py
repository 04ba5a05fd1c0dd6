"""MPTCP_INFO parsed from bytes recorded on Linux 6.18 (fixtures/mptcp_transfer/record.py),
cut to the lengths older kernels return; the socket helpers against fake sockets."""

import errno
import os
import socket
import struct

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.transfer.mptcp_socket import (
    IPPROTO_MPTCP,
    IPPROTO_TCP,
    TCP_INFO_HEAD,
    explain_socket_error,
    open_socket,
    parse_mptcp_info,
    parse_sockaddr,
    parse_subflow_data,
    parse_subflows,
    read_mptcp_info,
    read_subflows,
    tcp_is_mptcp,
)
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.mptcp_recorded import RECORDED

# The client's MPTCP_INFO mid-transfer: one extra subflow to the address the server
# signalled (accepted 1 of 1), token 95765602 as in the client's events.
INFO = bytes.fromhex(RECORDED["mptcp_info"])


def test_recorded_info_6_18():
    info = parse_mptcp_info(INFO)
    assert len(INFO) == 96
    assert info["subflows"] == 1
    assert info["subflows_total"] == 2
    assert info["subflows_count"] == 2
    assert info["add_addr_accepted"] == 1
    assert info["add_addr_accepted_max"] == 1
    assert info["subflows_max"] == 2
    assert info["flags"] == 2
    assert info["remote_key_received"] and not info["fallback"]
    assert info["token_hex"] == "95765602"
    assert info["bytes_sent"] == 100000
    assert "last_ack_recv" in info


# Cut right after the last field of each release (the struct the kernel copies is
# rounded up to 8 bytes; the padding reads as zero).
@pytest.mark.parametrize("length, present, absent", [
    (40, ["rcv_nxt", "token"], ["local_addr_used", "subflows_total"]),  # 5.9
    (43, ["csum_enabled"], ["retransmits", "subflows_total"]),  # 5.14
    (80, ["bytes_acked"], ["subflows_total"]),  # 6.5
    (84, ["subflows_total"], ["last_data_sent"]),  # 6.8
])
def test_older_kernels_return_less(length, present, absent):
    info = parse_mptcp_info(INFO[:length])
    for name in present:
        assert name in info
    for name in absent:
        assert name not in info
    # Without subflows_total the count is the extra subflows plus the initial one.
    assert info["subflows_count"] == 2


def test_not_yet_established_counts_the_initial_subflow():
    data = bytearray(INFO)
    data[0] = 0
    data[80] = 0
    assert parse_mptcp_info(bytes(data))["subflows_count"] == 1


def test_too_short():
    with pytest.raises(MptcpError, match="too short"):
        parse_mptcp_info(INFO[:8])


class FakeSocket:
    def __init__(self, answer):
        self.answer = answer

    def getsockopt(self, level, name, size=None):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("code", [errno.EOPNOTSUPP, errno.ENOPROTOOPT, errno.EINVAL])
def test_not_mptcp(code):
    # Seen on 6.18: a fallen-back MPTCP socket answers EOPNOTSUPP to MPTCP_INFO; TCP_IS_MPTCP
    # on a kernel older than 6.10 ENOPROTOOPT.
    assert read_mptcp_info(FakeSocket(OSError(code, os.strerror(code)))) is None
    assert tcp_is_mptcp(FakeSocket(OSError(code, os.strerror(code)))) is None


def test_other_errors_are_raised():
    with pytest.raises(OSError):
        read_mptcp_info(FakeSocket(OSError(errno.EBADF, "bad")))


def test_tcp_is_mptcp():
    assert tcp_is_mptcp(FakeSocket(1)) is True
    assert tcp_is_mptcp(FakeSocket(0)) is False


@pytest.mark.parametrize("code, words", [
    (errno.ENOPROTOOPT, "net.mptcp.enabled = 0"),
    (errno.EPROTONOSUPPORT, "built without MPTCP"),
    (errno.EINVAL, "Linux 5.6"),
    (errno.EMFILE, "Too many open files"),
])
def test_socket_refusals_explained(code, words):
    assert words in explain_socket_error(OSError(code, os.strerror(code)), IPPROTO_MPTCP)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_open_socket_plain_tcp(family):
    sock = open_socket(family, IPPROTO_TCP)
    try:
        # The kernel's word for what it made (SO_PROTOCOL), not Python's memory of the call.
        assert (sock.getsockopt(socket.SOL_SOCKET, socket.SO_DOMAIN), sock.type,
                sock.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)) == (family, socket.SOCK_STREAM, IPPROTO_TCP)
    finally:
        sock.close()


def test_open_socket_refused(monkeypatch):
    def refuse(*args):
        raise OSError(errno.ENOPROTOOPT, os.strerror(errno.ENOPROTOOPT))
    monkeypatch.setattr(socket, "socket", refuse)
    with pytest.raises(MptcpError, match="disabled in this network namespace"):
        open_socket(socket.AF_INET, IPPROTO_MPTCP)


def recorded_subflows(name):
    return parse_subflows(bytes.fromhex(RECORDED[name]["tcpinfo"]), bytes.fromhex(RECORDED[name]["addrs"]))


def test_recorded_subflows():
    assert recorded_subflows("subflows_two") == [
        {"state": "established", "local": "198.18.101.2", "local_port": 47982, "remote": "198.18.101.1",
         "remote_port": 5000},
        {"state": "established", "local": "198.18.102.2", "local_port": 51537, "remote": "198.18.102.1",
         "remote_port": 5000},
    ]
    # The server removed its second address: the subflow to it is gone.
    assert [subflow["local"] for subflow in recorded_subflows("subflows_one")] == ["198.18.101.2"]


def test_subflow_data_header():
    data = bytes.fromhex(RECORDED["subflows_two"]["tcpinfo"])
    count, elements = parse_subflow_data(data, TCP_INFO_HEAD)
    assert count == 2 and [element[0] for element in elements] == [1, 1]  # TCP_ESTABLISHED
    # More subflows than the buffer held: those that fit are returned.
    assert parse_subflow_data(data[:16 + TCP_INFO_HEAD], TCP_INFO_HEAD) == (2, [elements[0]])
    with pytest.raises(MptcpError, match="shorter than its header"):
        parse_subflow_data(data[:8], TCP_INFO_HEAD)


def test_sockaddr_ipv6_and_unknown():
    sin6 = struct.pack("=H", socket.AF_INET6) + struct.pack(">H", 443) + b"\0" * 4 + \
        socket.inet_pton(socket.AF_INET6, "2001:db8::1") + b"\0" * 104
    assert parse_sockaddr(sin6) == ("2001:db8::1", 443)
    assert parse_sockaddr(b"\0" * 128) == (None, 0)


def test_read_subflows_of_plain_tcp():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    sock = socket.create_connection(listener.getsockname())
    try:
        assert read_subflows(sock) is None
    finally:
        sock.close()
        listener.close()
