"""nm_client: the commands it runs (argument lists, by UUID), terse escaping, profile
lookup and its errors, NetworkManager.conf defaults, and what it does without busctl."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.client import (
    NmClient,
    find_profile,
    parse_applied_flags,
    parse_flags_of,
    parse_print_config,
    parse_profiles,
    parse_status,
    split_terse,
)

UUID1 = "8d31de30-d0c4-57f4-898f-9b074ec55043"
UUID2 = "af00069b-1e05-57dc-a55c-e3eaaaa6f6d0"
UUID3 = "7e5ee885-42f3-49ae-8f4a-7719c6a7cda6"


class FakeRun:
    """Answers argv (as a tuple) from a table and records every call."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv):
        assert isinstance(argv, list) and all(isinstance(arg, str) for arg in argv)
        self.calls.append(tuple(argv))
        return self.answers.get(tuple(argv), (1, "", "unexpected command %r" % (argv,)))


@pytest.mark.parametrize("line, fields", [
    ("a:b:c", ["a", "b", "c"]),
    ("lab \"v6\"\\: pr\u00fcfung\\\\x:uuid", ["lab \"v6\": pr\u00fcfung\\x", "uuid"]),
    ("a\\:b\\:c", ["a:b:c"]),
    ("::", ["", "", ""]),
    ("end\\\\:x", ["end\\", "x"]),
    ("", [""]),
])
def test_split_terse(line, fields):
    assert split_terse(line) == fields


PROFILES = parse_profiles(
    "lab-eth0:%s:802-3-ethernet:eth0:yes\n"
    "twin:%s:802-3-ethernet::no\n"
    "twin:%s:802-3-ethernet::no\n"
    "caf\u00e9 \"x\"\\: y:%s:802-3-ethernet:mpt0:yes\n" % (UUID1, UUID2, UUID3, "0e1f4c7a-0000-4000-8000-000000000004"))


def test_parse_profiles_inactive_have_no_devices():
    assert [p["devices"] for p in PROFILES] == [["eth0"], [], [], ["mpt0"]]


def test_parse_profiles_refuses_a_line_it_cannot_split():
    with pytest.raises(MptcpError, match="cannot read this line"):
        parse_profiles("only:three:fields\n")


@pytest.mark.parametrize("wanted, uuid", [
    ("lab-eth0", UUID1),
    (UUID2, UUID2),
    (UUID2.upper(), UUID2),
    ("caf\u00e9 \"x\": y", "0e1f4c7a-0000-4000-8000-000000000004"),
])
def test_find_profile_by_name_or_uuid(wanted, uuid):
    assert find_profile(PROFILES, wanted)["uuid"] == uuid


def test_find_profile_missing_lists_the_profiles():
    with pytest.raises(ValidationError) as error:
        find_profile(PROFILES, "lab-eth9")
    assert str(error.value) == ('profile "lab-eth9" not found; the profiles are: "lab-eth0", '
                                '"twin", "twin", "caf\u00e9 \\"x\\": y"')


def test_find_profile_ambiguous_name_asks_for_the_uuid():
    with pytest.raises(ValidationError, match="profile name \"twin\" is ambiguous: 2 profiles "
                                              "have it \\(UUIDs %s, %s\\); give the UUID" % (UUID2, UUID3)):
        find_profile(PROFILES, "twin")


def test_find_profile_with_no_profiles_at_all():
    with pytest.raises(ValidationError, match=r"the profiles are: \(none\)"):
        find_profile([], "x")


@pytest.mark.parametrize("rc, out, err, message", [
    (8, "", "Error: NetworkManager is not running.\n", "NetworkManager is not running"),
    (1, "", "Error: Could not create NMClient object: Permission denied\n",
     "cannot ask NetworkManager for its state: nmcli exited 1: Error: Could not create"),
    (0, "running\n", "", "cannot read"),
])
def test_parse_status_errors(rc, out, err, message):
    with pytest.raises(MptcpError, match=message):
        parse_status(rc, out, err)


@pytest.mark.parametrize("text, flags", [
    ("[main]\nplugins=keyfile\n", None),
    ("[connection]\nconnection.mptcp-flags=0x32\n", {"enabled", "signal", "subflow"}),
    ("[connection]\nconnection.mptcp-flags=0x22\n[connection-x]\nconnection.mptcp-flags=1\n",
     {"disabled"}),
    ("[connection-eth]\nmatch-device=interface-name:eth*\nconnection.mptcp-flags=1\n", None),
    ("# [connection]\n# connection.mptcp-flags=1\n", None),
    ("[connection-a]\nipv6.ip6-privacy=2\n[connection]\nconnection.mptcp-flags=signal,subflow\n",
     {"signal", "subflow"}),
])
def test_parse_print_config(text, flags):
    expected = None if flags is None else frozenset(flags)
    assert parse_print_config(text) == expected


@pytest.mark.parametrize("out", [
    "",
    "Call failed: No such method\n",
    'a{sa{sv}}t 1 "ipv4" 1 "method" s "auto" 3',
])
def test_parse_applied_flags_unknown(out):
    assert parse_applied_flags(out) is None


def test_parse_applied_flags_ignores_a_name_that_looks_like_the_key():
    out = ('a{sa{sv}}t 1 "connection" 2 "id" s "x \\"mptcp-flags\\" u 48 y" '
           '"mptcp-flags" u 1 "proxy" 0 3')
    assert parse_applied_flags(out) == frozenset(["disabled"])
    assert parse_applied_flags(out.replace('"mptcp-flags" u 1 ', "")) == frozenset()


def _client(answers, busctl="/usr/bin/busctl", daemon="/usr/sbin/NetworkManager"):
    run = FakeRun(answers)
    return NmClient(run, "/usr/bin/nmcli", busctl=busctl, daemon=daemon), run


def test_check_ready_checks_daemon_and_client():
    client, run = _client({
        ("/usr/bin/nmcli", "-t", "-f", "RUNNING,VERSION", "general"): (0, "running:1.52.1\n", ""),
        ("/usr/bin/nmcli", "--version"): (0, "nmcli tool, version 1.52.1\n", ""),
    })
    assert client.check_ready() == (1, 52, 1)
    assert len(run.calls) == 2


@pytest.mark.parametrize("daemon, tool, message", [
    ("1.38.2", "1.52.1", "NetworkManager \\(the daemon\\) is 1.38.2; connection.mptcp-flags needs"),
    ("1.42.4", "1.36.0", "nmcli is 1.36.0; connection.mptcp-flags needs"),
])
def test_check_ready_refuses_old_versions(daemon, tool, message):
    client, _run = _client({
        ("/usr/bin/nmcli", "-t", "-f", "RUNNING,VERSION", "general"): (0, "running:%s\n" % daemon, ""),
        ("/usr/bin/nmcli", "--version"): (0, "nmcli tool, version %s\n" % tool, ""),
    })
    with pytest.raises(MptcpError, match=message):
        client.check_ready()


def test_reads_and_writes_go_by_uuid_as_argument_lists():
    odd_uuid = UUID3
    client, run = _client({
        ("/usr/bin/nmcli", "-g", "connection.uuid,connection.mptcp-flags", "connection", "show", "uuid", odd_uuid):
            (0, odd_uuid + "\n0x38\n", ""),
        ("/usr/bin/nmcli", "connection", "modify", "uuid", odd_uuid, "connection.mptcp-flags", "0x30"):
            (0, "", ""),
        ("/usr/bin/nmcli", "connection", "modify", "uuid", odd_uuid, "connection.mptcp-flags", "0x0"):
            (0, "", ""),
        ("/usr/bin/nmcli", "device", "reapply", "mpt0"): (0, "Connection successfully reapplied\n", ""),
        ("/usr/bin/nmcli", "connection", "up", "uuid", odd_uuid, "ifname", "mpt0"): (0, "", ""),
    })
    assert client.read_flags_of([odd_uuid]) == {odd_uuid: frozenset(["also-without-default-route", "signal", "subflow"])}
    client.write_flags(odd_uuid, frozenset(["signal", "subflow"]))
    client.write_flags(odd_uuid, frozenset())
    client.reapply("mpt0")
    client.reactivate(odd_uuid, "mpt0")
    assert len(run.calls) == 5


def test_a_failing_nmcli_says_what_and_why():
    client, _run = _client({
        ("/usr/bin/nmcli", "device", "reapply", "eth1"):
            (1, "", "Error: Reapplying connection to device 'eth1' (/org/freedesktop/NetworkManager/"
                    "Devices/3) failed: Can't reapply any changes to '802-3-ethernet' setting\n"),
    })
    with pytest.raises(MptcpError, match="reapplying the profile of eth1 failed: nmcli device "
                                         "reapply eth1 exited 1: Error: Reapplying"):
        client.reapply("eth1")


def test_applied_flags_through_busctl():
    path = "/org/freedesktop/NetworkManager/Devices/3"
    busctl = ("/usr/bin/busctl", "call", "org.freedesktop.NetworkManager")
    applied = 'a{sa{sv}}t 1 "connection" 2 "id" s "lab-eth1" "mptcp-flags" u 48 9\n'
    client, run = _client({
        busctl + ("/org/freedesktop/NetworkManager", "org.freedesktop.NetworkManager",
                  "GetDeviceByIpIface", "s", "eth1"): (0, 'o "%s"\n' % path, ""),
        busctl + (path, "org.freedesktop.NetworkManager.Device", "GetAppliedConnection", "u", "0"):
            (0, applied, ""),
    })
    assert client.applied_flags("eth1") == frozenset(["signal", "subflow"])
    assert client.applied_flags("eth9") is None
    assert len(run.calls) == 3


def test_without_busctl_or_daemon_binary_those_are_unknown():
    client, run = _client({}, busctl=None, daemon=None)
    assert client.applied_flags("eth1") is None
    assert client.default_flags() is None
    assert run.calls == []


def test_default_flags_from_print_config():
    client, _run = _client({
        ("/usr/sbin/NetworkManager", "--print-config"):
            (0, "[connection]\nconnection.mptcp-flags=0x12\n", ""),
    })
    assert client.default_flags() == frozenset(["enabled", "signal"])


def test_flags_of_several_profiles_are_read_in_one_call():
    """As NM 1.42.4 and 1.52.1 print them: uuid and flags per profile, an empty line between."""
    client, run = _client({
        ("/usr/bin/nmcli", "-g", "connection.uuid,connection.mptcp-flags", "connection", "show",
         "uuid", UUID1, "uuid", UUID2): (0, "%s\n0x22\n\n%s\n0x1\n" % (UUID1, UUID2), ""),
    })
    assert client.read_flags_of([UUID1, UUID2]) == {
        UUID1: frozenset(["enabled", "subflow"]), UUID2: frozenset(["disabled"])}
    assert len(run.calls) == 1
    assert client.read_flags_of([]) == {} and len(run.calls) == 1


@pytest.mark.parametrize("out", ["", "%s\n" % UUID1, "%s\n0x22\n\n%s\n0x1\n" % (UUID1, UUID1)])
def test_flags_of_profiles_missing_from_the_output_fail_clearly(out):
    with pytest.raises(MptcpError, match="cannot read connection.mptcp-flags of"):
        parse_flags_of(out, [UUID1, UUID2])
