"""Finding the MPTCP tools of a host: version strings as the tools print them, and the
mptcpize preload library where each distribution puts it (a tree under tmp_path)."""

import os

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.info import tools as info_tools
from ansible_collections.mptcp.linux.plugins.module_utils.info.tools import (
    find_preload_library,
    parse_iproute2_version,
    parse_nmcli_version,
    parse_systemd_version,
    read_tools,
)

USAGE = "Usage:\tip mptcp endpoint add ADDRESS [ dev NAME ] [ id ID ]\nFLAG  := [ signal | subflow | backup ]\n"


@pytest.mark.parametrize("text, version", [
    ("ip utility, iproute2-6.1.0, libbpf 1.1.2\n", "6.1.0"),
    ("ip utility, iproute2-5.15.0, libbpf 0.5.0\n", "5.15.0"),
    ("ip utility, iproute2-ss200127\n", "ss200127"),
    ("", None),
])
def test_parse_iproute2_version(text, version):
    assert parse_iproute2_version(text) == version


@pytest.mark.parametrize("text, version", [
    ("nmcli tool, version 1.42.4\n", "1.42.4"),
    ("nmcli tool, version 1.52.0-1.fc42\n", "1.52.0-1.fc42"),
    ("", None),
])
def test_parse_nmcli_version(text, version):
    assert parse_nmcli_version(text) == version


def plant(root, *paths):
    for path in paths:
        full = os.path.join(str(root), path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        open(full, "w").close()


@pytest.mark.parametrize("files, found", [
    (["usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"],
     "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"),
    (["usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"], "/usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"),
    (["usr/lib64/mptcpd/libmptcpwrap.so.0.0.0"], "/usr/lib64/mptcpd/libmptcpwrap.so.0.0.0"),
    (["usr/lib64/mptcpd/libmptcpwrap.so.0.0.0", "usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"],
     "/usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"),
    ([], None),
])
def test_find_preload_library(tmp_path, files, found):
    plant(tmp_path, *files)
    assert find_preload_library(str(tmp_path)) == found


def test_find_preload_library_prefers_the_file_to_its_symlink(tmp_path):
    plant(tmp_path, "usr/lib64/mptcpize/libmptcpwrap.so.0.0.1")
    os.symlink("libmptcpwrap.so.0.0.1", str(tmp_path / "usr/lib64/mptcpize/libmptcpwrap.so.0"))
    assert find_preload_library(str(tmp_path)) == "/usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"


def test_find_preload_library_gives_where_a_link_really_leads(tmp_path):
    plant(tmp_path, "opt/evil/libmptcpwrap.so.0.0.1")
    os.makedirs(str(tmp_path / "usr/lib64/mptcpize"))
    os.symlink(str(tmp_path / "opt/evil/libmptcpwrap.so.0.0.1"), str(tmp_path / "usr/lib64/mptcpize/libmptcpwrap.so.0.0.1"))
    assert find_preload_library(str(tmp_path)) == "/opt/evil/libmptcpwrap.so.0.0.1"


def fake(answers):
    """answers: {argv[1:]: (rc, out, err)}, or {(command name,) + argv[1:]: ...} where two
    tools take the same arguments (--version)."""
    calls = []

    def run(argv):
        calls.append(argv)
        by_name = (os.path.basename(argv[0]),) + tuple(argv[1:])
        return answers.get(by_name, answers.get(tuple(argv[1:]), (127, "", "not found")))
    return run, calls


def test_read_tools_on_a_host_with_everything(tmp_path, monkeypatch):
    plant(tmp_path, "usr/lib/aarch64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1")
    monkeypatch.setattr(info_tools, "pyroute2_version", lambda: "0.7.2")
    run, _calls = fake({("-V",): (0, "ip utility, iproute2-6.1.0, libbpf 1.1.2\n", ""),
                        ("mptcp", "help"): (255, "", USAGE),
                        ("nmcli", "--version"): (0, "nmcli tool, version 1.42.4\n", ""),
                        ("systemctl", "--version"): (0, SYSTEMD_257, "")})
    which = {"ip": "/usr/sbin/ip", "nmcli": "/usr/bin/nmcli", "mptcpize": "/usr/bin/mptcpize",
             "systemctl": "/usr/bin/systemctl"}.get
    assert read_tools(run, which, str(tmp_path)) == {
        "iproute2": {"path": "/usr/sbin/ip", "version": "6.1.0", "ip_mptcp": True},
        "pyroute2": "0.7.2",
        "nmcli": {"path": "/usr/bin/nmcli", "version": "1.42.4"},
        "mptcpize": {"path": "/usr/bin/mptcpize",
                     "preload": "/usr/lib/aarch64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"},
        "systemd": {"path": "/usr/bin/systemctl", "version": 257},
    }


def test_read_tools_on_a_bare_host(tmp_path, monkeypatch):
    monkeypatch.setattr(info_tools, "pyroute2_version", lambda: None)
    run, calls = fake({})
    assert read_tools(run, lambda name: None, str(tmp_path)) == {
        "iproute2": None, "pyroute2": None, "nmcli": None, "mptcpize": None, "systemd": None}
    assert calls == []


def test_read_tools_with_an_iproute2_older_than_ip_mptcp(tmp_path):
    run, _calls = fake({("-V",): (0, "ip utility, iproute2-ss200127\n", ""),
                        ("mptcp", "help"): (255, "", 'Object "mptcp" is unknown, try "ip help".\n')})
    tools = read_tools(run, {"ip": "/sbin/ip"}.get, str(tmp_path))
    assert tools["iproute2"] == {"path": "/sbin/ip", "version": "ss200127", "ip_mptcp": False}


# The first lines of `systemctl --version` on Debian 12, 13 and 11 (lab hosts).
SYSTEMD_257 = "systemd 257 (257.13-1~deb13u1)\n+PAM +AUDIT +SELINUX +APPARMOR +IMA +IPE +SMACK +SECCOMP\n"


@pytest.mark.parametrize("text, version", [
    (SYSTEMD_257, 257),
    ("systemd 252 (252.39-1~deb12u2)\n+PAM +AUDIT\n", 252),
    ("systemd 247 (247.3-7+deb11u6)\n", 247),
    ("systemd 262~rc1 (262~rc1-1)\n", 262),
    ("", None),
    ("System has not been booted with systemd as init system (PID 1).\n", None),
])
def test_parse_systemd_version(text, version):
    assert parse_systemd_version(text) == version


def test_read_tools_says_when_systemctl_cannot_tell_its_version(tmp_path):
    run, _calls = fake({("systemctl", "--version"): (1, "", "Failed to connect to bus")})
    assert read_tools(run, {"systemctl": "/bin/systemctl"}.get, str(tmp_path))["systemd"] == {
        "path": "/bin/systemctl", "version": None}
