"""Reading MPTCP sockets from `ss -H -Mnai`, recorded on iproute2 6.1 / Linux 6.18 (a client
with one join, and a server with that connection and two listeners)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.info.ss import parse_sockets, read_sockets, split_address

CLIENT = (
    "ESTAB 0      0      10.10.1.1:43752 10.10.1.2:5201\n"
    "\t subflows:1 subflows_max:2 add_addr_accepted_max:2 remote_key token:967cdebd "
    "write_seq:afe25710a5c58065 snd_una:afe25710a5c58065 rcv_nxt:7a602a368062ab34\n"
)
SERVER = (
    "ESTAB  1832   0      10.10.1.2:5201 10.10.1.1:43752\n"
    "\t subflows:1 subflows_max:2 add_addr_accepted_max:2 remote_key token:99ce03f9 "
    "write_seq:7a602a368062ab34 snd_una:7a602a368062ab34 rcv_nxt:afe25710a5c58065\n"
    "LISTEN 0      128    10.10.1.2:5201   0.0.0.0:*    \n"
    "\t" + " " * 60 + "\n"
    "LISTEN 0      128            *:5202         *:*    \n"
    "\t" + " " * 60 + "\n"
)
# A connection that fell back to TCP, as ss prints it (the `fallback` word).
FALLBACK = "ESTAB 0 0 [2001:db8::1]:40000 [2001:db8::2]:80\n\t fallback token:1a2b\n"


@pytest.mark.parametrize("text, expected", [
    ("10.0.0.1:80", {"address": "10.0.0.1", "port": 80, "dev": None}),
    ("10.10.2.1%c2:57953", {"address": "10.10.2.1", "port": 57953, "dev": "c2"}),
    ("[2001:db8::1]:443", {"address": "2001:db8::1", "port": 443, "dev": None}),
    ("[fe80::1]%eth0:22", {"address": "fe80::1", "port": 22, "dev": "eth0"}),
    ("0.0.0.0:*", {"address": "0.0.0.0", "port": None, "dev": None}),
    ("*:5202", {"address": "*", "port": 5202, "dev": None}),
])
def test_split_address(text, expected):
    assert split_address(text) == expected


def test_a_client_connection_with_one_join():
    (connection,) = parse_sockets(CLIENT)
    assert connection == {
        "state": "ESTAB",
        "local": {"address": "10.10.1.1", "port": 43752, "dev": None},
        "remote": {"address": "10.10.1.2", "port": 5201, "dev": None},
        "subflows": 1, "subflows_max": 2, "add_addr_signal": 0, "add_addr_accepted": 0,
        "add_addr_signal_max": 0, "add_addr_accepted_max": 2, "token": "967cdebd", "fallback": False,
    }


def test_a_server_lists_its_connection_and_its_listeners():
    sockets = parse_sockets(SERVER)
    assert [(s["state"], s["local"]["port"], s["subflows"]) for s in sockets] == [
        ("ESTAB", 5201, 1), ("LISTEN", 5201, 0), ("LISTEN", 5202, 0)]
    assert sockets[1]["remote"] == {"address": "0.0.0.0", "port": None, "dev": None}
    assert sockets[2]["token"] is None


def test_a_fallback_is_reported():
    (connection,) = parse_sockets(FALLBACK)
    assert connection["fallback"] is True and connection["subflows"] == 0
    assert connection["remote"]["address"] == "2001:db8::2"


def test_nothing_open_is_an_empty_list():
    assert parse_sockets("") == []


def test_a_line_ss_would_not_print_is_an_error():
    with pytest.raises(MptcpError):
        parse_sockets("ESTAB 0\n")


def test_read_sockets_asks_ss_in_the_namespace():
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, CLIENT, ""
    assert len(read_sockets(run, "/usr/bin/ss", "blue")) == 1
    assert calls == [["/usr/bin/ss", "-N", "blue", "-H", "-M", "-n", "-a", "-i"]]


def test_an_ss_without_mptcp_says_so():
    def run(_argv):
        return 255, "", "ss: invalid option -- 'M'\nUsage: ss [ OPTIONS ]\n"
    with pytest.raises(MptcpError) as caught:
        read_sockets(run, "/usr/bin/ss")
    assert "this ss has no -M (MPTCP sockets need iproute2 5.9 or later)" in str(caught.value)
