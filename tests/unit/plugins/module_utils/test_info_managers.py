"""mptcp_info's `managers` and the role's rules over them, on real files in a temporary
root: mptcpd's configuration, plugin directory and processes (/proc/PID/comm, cmdline,
ns/net), the sysctl.d directories in systemd-sysctl's order, and the endpoints
NetworkManager sets."""

import os

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.host.other_managers import other_managers
from ansible_collections.mptcp.linux.plugins.module_utils.host.request import HostRequest
from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.info.managers import boot_sysctl, networkmanager
from ansible_collections.mptcp.linux.plugins.module_utils.info.mptcpd import (
    parse_arguments,
    parse_exec_start,
    parse_show,
    read_mptcpd,
)
from ansible_collections.mptcp.linux.plugins.module_utils.info.nm_endpoints import nm_endpoints
from ansible_collections.mptcp.linux.tests.unit.plugins.module_utils.test_host_parts import DEFAULTS as HOST_DEFAULTS

# Debian 12's mptcpd 0.12: /etc/mptcpd/mptcpd.conf without its comments, and its unit.
DEBIAN_CONF = "[core]\nlog=stderr\nplugin-dir=/usr/lib/x86_64-linux-gnu/mptcpd\npath-manager=addr_adv\n"
PLUGIN_DIR = "usr/lib/x86_64-linux-gnu/mptcpd"
SHOW_ENABLED = ("Id=mptcp.service\nLoadState=loaded\nUnitFileState=enabled\n"
                "ExecStart={ path=/usr/libexec/mptcpd ; argv[]=/usr/libexec/mptcpd --log=journal ; "
                "ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n"
                "\nId=mptcpd.service\nLoadState=not-found\nUnitFileState=\nExecStart=\n")
SHOW_NONE = ("Id=mptcp.service\nLoadState=not-found\nUnitFileState=\nExecStart=\n\n"
             "Id=mptcpd.service\nLoadState=not-found\nUnitFileState=\nExecStart=\n")
THIS_NETNS = "net:[4026531840]"


def write(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def process(root, pid, comm, argv, netns=THIS_NETNS):
    """/proc/PID as the kernel shows it: comm, NUL-separated cmdline, ns/net link."""
    write(root, "proc/%s/comm" % pid, comm + "\n")
    (root / ("proc/%s/cmdline" % pid)).write_bytes(b"\0".join(arg.encode() for arg in argv) + b"\0")
    (root / ("proc/%s/ns" % pid)).mkdir(parents=True, exist_ok=True)
    os.symlink(netns, str(root / ("proc/%s/ns/net" % pid)))


def mptcpd_host(root, conf=DEBIAN_CONF, plugins=("addr_adv", "sspi"), argv=None, netns=THIS_NETNS, unit=True):
    if unit:
        write(root, "lib/systemd/system/mptcp.service", "[Service]\nExecStart=/usr/libexec/mptcpd --log=journal\n")
    if conf is not None:
        write(root, "etc/mptcpd/mptcpd.conf", conf)
    for name in plugins:
        write(root, "%s/%s.so" % (PLUGIN_DIR, name), "")
    (root / "proc/self/ns").mkdir(parents=True, exist_ok=True)
    os.symlink(THIS_NETNS, str(root / "proc/self/ns/net"))
    process(root, 1, "systemd", ["/sbin/init"])
    if argv is not None:
        process(root, 212, "mptcpd", argv, netns)


def systemctl(show):
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, show, ""
    return run, (lambda name: "/usr/bin/systemctl" if name == "systemctl" else None), calls


def test_debian_s_mptcpd_running_loads_every_plugin_and_addr_adv_writes_endpoints_and_limits(tmp_path):
    mptcpd_host(tmp_path, argv=["/usr/libexec/mptcpd", "--log=journal"])
    run, which, calls = systemctl(SHOW_ENABLED)
    found = read_mptcpd(run, which, str(tmp_path))
    assert found == {
        "installed": True, "unit": "mptcp.service", "running": True, "pids": [212], "enabled": True,
        "config": "/etc/mptcpd/mptcpd.conf", "plugin_dir": "/" + PLUGIN_DIR, "path_manager": "addr_adv",
        "plugins": ["addr_adv", "sspi"], "unknown_plugins": [], "addr_flags": [], "writes": ["endpoints", "limits"]}
    assert calls == [["/usr/bin/systemctl", "show", "-p", "Id,LoadState,UnitFileState,ExecStart",
                      "mptcp.service", "mptcpd.service"]]


def test_load_plugins_in_the_config_decides_and_sspi_writes_nothing(tmp_path):
    mptcpd_host(tmp_path, conf=DEBIAN_CONF + "load-plugins=sspi\naddr-flags=subflow,signal\n",
                argv=["/usr/libexec/mptcpd"])
    found = read_mptcpd(*systemctl(SHOW_ENABLED)[:2], root=str(tmp_path))
    assert (found["plugins"], found["writes"], found["addr_flags"]) == (["sspi"], [], ["subflow", "signal"])


@pytest.mark.parametrize("argv", [
    ["/usr/libexec/mptcpd", "--load-plugins=addr_adv"],
    ["/usr/libexec/mptcpd", "--load-plugins", "addr_adv"],
])
def test_the_command_line_wins_over_the_config(tmp_path, argv):
    mptcpd_host(tmp_path, conf=DEBIAN_CONF + "load-plugins=sspi\n", argv=argv)
    found = read_mptcpd(*systemctl(SHOW_ENABLED)[:2], root=str(tmp_path))
    assert (found["plugins"], found["writes"]) == (["addr_adv"], ["endpoints", "limits"])


def test_without_a_unit_file_systemctl_is_not_asked(tmp_path):
    mptcpd_host(tmp_path, unit=False, argv=["/usr/libexec/mptcpd"])
    run, which, calls = systemctl(SHOW_ENABLED)
    found = read_mptcpd(run, which, str(tmp_path))
    assert calls == []
    assert (found["running"], found["unit"], found["enabled"]) == (True, None, False)


def test_an_mptcpd_of_another_network_namespace_is_not_ours(tmp_path):
    mptcpd_host(tmp_path, argv=["/usr/libexec/mptcpd"], netns="net:[4026532999]")
    found = read_mptcpd(*systemctl(SHOW_NONE)[:2], root=str(tmp_path))
    assert (found["running"], found["pids"], found["enabled"], found["unit"]) == (False, [], False, None)
    assert found["installed"]  # its config and plugins are there


def test_enabled_but_not_running_acts_on_its_unit_s_command_line(tmp_path):
    show = SHOW_ENABLED.replace("--log=journal", "--log=journal --load-plugins=sspi")
    mptcpd_host(tmp_path)
    found = read_mptcpd(*systemctl(show)[:2], root=str(tmp_path))
    assert (found["running"], found["enabled"], found["plugins"], found["writes"]) == (False, True, ["sspi"], [])


def test_no_mptcpd_at_all(tmp_path):
    (tmp_path / "proc").mkdir()
    found = read_mptcpd(lambda argv: (0, SHOW_NONE, ""), lambda name: None, str(tmp_path))
    assert (found["installed"], found["running"], found["enabled"], found["plugins"], found["writes"]) == \
        (False, False, False, [], [])


def test_an_unknown_plugin_is_named_and_not_taken_as_harmless(tmp_path):
    mptcpd_host(tmp_path, plugins=("addr_adv", "mine"), argv=["/usr/libexec/mptcpd"])
    found = read_mptcpd(*systemctl(SHOW_ENABLED)[:2], root=str(tmp_path))
    assert found["unknown_plugins"] == ["mine"]


def test_parsers():
    assert parse_arguments(["--log=journal", "--path-manager", "sspi", "--plugin-dir=/x"]) == \
        {"path-manager": "sspi", "plugin-dir": "/x"}
    assert parse_exec_start(SHOW_ENABLED) == ["/usr/libexec/mptcpd", "--log=journal"]
    assert [block["Id"] for block in parse_show(SHOW_ENABLED)] == ["mptcp.service", "mptcpd.service"]


# --- the sysctl files, in systemd-sysctl's order ----------------------------------------

def sysctl_tree(root, files):
    for relative in ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d"):
        (root / relative).mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        write(root, relative, text)
    return str(root)


@pytest.mark.parametrize("files, expected", [
    # by file name across the directories: usr/lib's 99- comes after etc's 90-, and wins
    ({"etc/sysctl.d/90-mptcp.conf": "net.mptcp.enabled = 1\n", "usr/lib/sysctl.d/99-vendor.conf": "net.mptcp.enabled=0\n"},
     {"enabled": {"value": 0, "file": "/usr/lib/sysctl.d/99-vendor.conf",
                  "files": [{"file": "/etc/sysctl.d/90-mptcp.conf", "value": 1},
                            {"file": "/usr/lib/sysctl.d/99-vendor.conf", "value": 0}]}}),
    # a file in /etc hides the same name in /usr/lib
    ({"etc/sysctl.d/90-mptcp.conf": "net.mptcp.enabled = 1\n", "etc/sysctl.d/99-vendor.conf": "\n",
      "usr/lib/sysctl.d/99-vendor.conf": "net.mptcp.enabled=0\n"},
     {"enabled": {"value": 1, "file": "/etc/sysctl.d/90-mptcp.conf",
                  "files": [{"file": "/etc/sysctl.d/90-mptcp.conf", "value": 1}]}}),
    # /run between /etc and /usr/lib, same order by name; /etc/sysctl.conf last of all
    ({"run/sysctl.d/95-run.conf": "net.mptcp.add_addr_timeout = 30\n",
      "etc/sysctl.d/90-mptcp.conf": "net.mptcp.add_addr_timeout = 60\n",
      "etc/sysctl.conf": "net/mptcp/add_addr_timeout = 90\n"},
     {"add_addr_timeout": {"value": 90, "file": "/etc/sysctl.conf",
                           "files": [{"file": "/etc/sysctl.d/90-mptcp.conf", "value": 60},
                                     {"file": "/run/sysctl.d/95-run.conf", "value": 30},
                                     {"file": "/etc/sysctl.conf", "value": 90}]}}),
    # a glob sets every key the kernel has, and an explicit key beats it wherever it is
    ({"usr/lib/sysctl.d/10-glob.conf": "net.mptcp.* = 0\n", "etc/sysctl.d/05-one.conf": "net.mptcp.enabled = 1\n"},
     {"enabled": {"value": 1, "file": "/etc/sysctl.d/05-one.conf",
                  "files": [{"file": "/etc/sysctl.d/05-one.conf", "value": 1}]},
      "checksum_enabled": {"value": 0, "file": "/usr/lib/sysctl.d/10-glob.conf",
                           "files": [{"file": "/usr/lib/sysctl.d/10-glob.conf", "value": 0}]}}),
    # not *.conf: not read
    ({"etc/sysctl.d/99-later.conf.disabled": "net.mptcp.enabled = 0\n"}, {}),
])
def test_boot_sysctl_names_the_file_that_wins_and_every_file_in_order(tmp_path, files, expected):
    assert boot_sysctl(sysctl_tree(tmp_path, files), known=("enabled", "checksum_enabled")) == expected


# --- what NetworkManager sets -----------------------------------------------------------

PROFILE = {"name": "uplink2", "uuid": "0f0e8f43-3c1a-4c3b-9c55-0b4e1f0d2a61", "devices": ["eth1"], "mptcp_flags": []}
ADDRESSES = {"eth1": [{"address": "198.19.51.10", "family": 4, "temporary": False},
                      {"address": "169.254.3.3", "family": 4, "temporary": False},
                      {"address": "fe80::1", "family": 6, "temporary": False},
                      {"address": "fd00::5", "family": 6, "temporary": False},
                      {"address": "2001:db8::9", "family": 6, "temporary": True},
                      {"address": "2001:db8::10", "family": 6, "temporary": False}]}
ROUTES = {(4, "eth1"), (6, "eth1")}


@pytest.mark.parametrize("flags, routes, enabled, expected", [
    ([], ROUTES, 1, [("198.19.51.10", ["subflow"]), ("2001:db8::10", ["subflow"])]),
    (["disabled"], ROUTES, 1, []),
    (["signal", "backup"], {(4, "eth1")}, 1, [("198.19.51.10", ["signal", "backup"])]),
    (["subflow"], set(), 1, []),
    (["subflow", "also-without-default-route"], set(), 1, [("198.19.51.10", ["subflow"]), ("2001:db8::10", ["subflow"])]),
    ([], ROUTES, 0, []),
    (["subflow", "also-without-sysctl"], {(4, "eth1")}, 0, [("198.19.51.10", ["subflow"])]),
])
def test_networkmanager_s_endpoints_follow_its_rules(flags, routes, enabled, expected):
    made = nm_endpoints([dict(PROFILE, mptcp_flags=flags)], ADDRESSES, routes, enabled)
    assert [(entry["address"], entry["flags"]) for entry in made] == expected
    assert all((entry["dev"], entry["profile"]) == ("eth1", "uplink2") for entry in made)


def test_an_inactive_profile_sets_nothing():
    assert nm_endpoints([dict(PROFILE, devices=[])], ADDRESSES, ROUTES, 1) == []


def test_networkmanager_conf_s_default_counts_for_a_profile_at_zero():
    made = nm_endpoints([PROFILE], ADDRESSES, {(4, "eth1")}, 1, default_flags=frozenset(["enabled", "signal"]))
    assert [entry["flags"] for entry in made] == [["signal"]]


@pytest.mark.parametrize("version, expected", [((1, 52, 0), ["subflow"]), ((1, 56, 0), ["subflow", "laminar"]),
                                               ((1, 58, 1), ["subflow", "laminar"])])
def test_a_profile_at_zero_gets_the_built_in_default_of_its_networkmanager_version(version, expected):
    """NetworkManager 1.56 and later make `subflow laminar` endpoints for a profile at 0
    (seen on forky's 1.58.1): the prediction follows the version read."""
    made = nm_endpoints([PROFILE], ADDRESSES, {(4, "eth1")}, 1, version=version)
    assert [entry["flags"] for entry in made] == [expected]


# --- the role's rules -------------------------------------------------------------------

# The role's defaults as mptcp_host gets them (test_host_parts.py keeps them).
DEFAULTS = dict(HOST_DEFAULTS, other_managers="refuse")
MPTCPD = {"installed": True, "unit": "mptcp.service", "running": True, "pids": [212], "enabled": True,
          "config": "/etc/mptcpd/mptcpd.conf", "plugins": ["addr_adv", "sspi"], "writes": ["endpoints", "limits"]}
ENDPOINT = {"address": "198.19.51.10", "dev": "eth1", "flags": ["signal"]}
NM_MADE = {"address": "198.19.51.10", "dev": "eth1", "profile": "lab-eth1", "uuid": "a59c", "flags": ["subflow"]}


def rules(mptcpd=None, nm_made=(), **params):
    request = HostRequest(dict(DEFAULTS, **params))
    return other_managers(request, {"mptcpd": mptcpd or {}, "networkmanager": {"endpoints": list(nm_made)}})


@pytest.mark.parametrize("params, asked", [
    (dict(endpoints=[ENDPOINT]), "endpoints (mptcp_endpoints)"),
    (dict(limits={"subflows": 2}), "limits (mptcp_limits)"),
    (dict(endpoints_exclusive=True), "endpoints (mptcp_endpoints_exclusive)"),
    (dict(endpoints=[ENDPOINT], limits={"subflows": 2}), "endpoints and limits (mptcp_endpoints, mptcp_limits)"),
])
def test_mptcpd_with_addr_adv_is_refused_where_the_role_sets_what_it_writes(params, asked):
    problems, warnings = rules(MPTCPD, **params)
    assert warnings == []
    assert len(problems) == 1
    assert "h1: mptcpd (mptcp.service running, plugins addr_adv, sspi; config /etc/mptcpd/mptcpd.conf)" in problems[0]
    assert "the role is asked to set its %s" % asked in problems[0]
    assert "systemctl disable --now mptcp.service" in problems[0]


def test_warn_sets_them_anyway_with_the_same_words():
    problems, warnings = rules(MPTCPD, endpoints=[ENDPOINT], other_managers="warn")
    assert problems == []
    assert len(warnings) == 1 and "mptcp_other_managers is warn: the role sets them anyway" in warnings[0]


def test_mptcpd_enabled_at_boot_counts_as_running():
    problems, _warnings = rules(dict(MPTCPD, running=False, pids=[]), limits={"subflows": 2})
    assert "mptcpd (mptcp.service enabled at boot" in problems[0]


@pytest.mark.parametrize("mptcpd, params", [
    (dict(MPTCPD, writes=[], plugins=["sspi"]), dict(endpoints=[ENDPOINT], limits={"subflows": 2})),
    (dict(MPTCPD, running=False, enabled=False), dict(endpoints=[ENDPOINT])),
    (MPTCPD, dict(sysctl={"enabled": 1})),
    (MPTCPD, dict(state="absent", endpoints=[ENDPOINT])),
])
def test_no_conflict_where_mptcpd_writes_nothing_the_role_sets(mptcpd, params):
    assert rules(mptcpd, **params) == ([], [])


def test_networkmanager_s_endpoint_of_a_listed_address_is_warned_of():
    problems, warnings = rules(nm_made=[NM_MADE], endpoints=[ENDPOINT])
    assert problems == []
    assert warnings == [
        "h1: NetworkManager's profile lab-eth1 sets its own endpoint for 198.19.51.10 on eth1 (flags subflow), and "
        "mptcp_endpoints lists 198.19.51.10 (flags signal): NetworkManager sets it again whenever the profile comes up "
        "or is reapplied, and removes it when the profile goes down. Let one of them own the address: list lab-eth1 "
        "in mptcp_nm_profiles with flags [disabled], or take 198.19.51.10 out of mptcp_endpoints."]


@pytest.mark.parametrize("params", [
    dict(endpoints=[ENDPOINT], nm_profiles=[{"name": "lab-eth1", "flags": ["disabled"]}]),
    dict(endpoints=[dict(ENDPOINT, address="198.19.51.11")]),
    dict(endpoints=[ENDPOINT], state="absent"),
])
def test_no_warning_where_networkmanager_is_told_off_or_sets_another_address(params):
    assert rules(nm_made=[NM_MADE], **params) == ([], [])


@pytest.mark.parametrize("message, running", [
    ("NetworkManager (the daemon) is 1.30.6; connection.mptcp-flags needs NetworkManager 1.40 or later", True),
    ("NetworkManager is not running (nmcli said: Error: NetworkManager is not running.); start it", False),
])
def test_a_networkmanager_too_old_or_not_running_sets_no_endpoints_and_says_why(message, running):
    def read_profiles():
        raise MptcpError(message)
    found = networkmanager(lambda argv: (0, "", ""), lambda name: "/usr/bin/" + name, read_profiles, 1)
    assert found == {"running": running, "endpoints": [], "unread": message}
