"""Every parser against what the lab's real NetworkManager 1.42.4 (Debian 12) and 1.52.1
(Debian 13), busctl and iproute2 6.1/6.15 printed (fixtures/nm/*/recorded.json, written
by fixtures/nm/record.py)."""

import glob
import json
import os

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.client import (
    parse_applied_flags,
    parse_device_path,
    parse_print_config,
    parse_profiles,
    parse_status,
    split_terse,
)
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.flags import ordered, parse_flags, parse_version
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.host import has_default_route, parse_addresses
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import parse_endpoints

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDINGS = sorted(glob.glob(os.path.join(HERE, "fixtures", "nm", "nm-*", "recorded.json")))
ODD_NAME = u'lab "v6": pr\u00fcfung\\x'


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


RECORDED = [_load(path) for path in RECORDINGS]
IDS = ["NM " + recorded["version"].strip() for recorded in RECORDED]
FLAG_CASES = [(recorded, case) for recorded in RECORDED for case in recorded["flags"]]
FLAG_IDS = ["NM %s set %r" % (recorded["version"].strip(), case["set"]) for recorded, case in FLAG_CASES]


def test_both_versions_were_recorded():
    assert sorted(IDS) == ["NM 1.42.4", "NM 1.52.1"]


@pytest.mark.parametrize("recorded, case", FLAG_CASES, ids=FLAG_IDS)
def test_every_printed_form_reads_as_the_set_that_was_written(recorded, case):
    wanted = parse_flags(case["set"])
    assert parse_flags(case["g"]) == wanted
    assert parse_flags(split_terse(case["terse"].strip())[1]) == wanted
    assert parse_flags(case["pretty"].split(":", 1)[1]) == wanted


@pytest.mark.parametrize("recorded, case", FLAG_CASES, ids=FLAG_IDS)
def test_flags_are_listed_in_the_order_nmcli_prints_them(recorded, case):
    """The diff and the returned lists follow NetworkManager's own order, the one nmcli
    prints in parentheses (bit order; `subflow, backup`, not alphabetical)."""
    printed = case["pretty"].split(":", 1)[1].strip()
    names = printed[printed.index("(") + 1:printed.rindex(")")].split(", ")
    assert ordered(parse_flags(case["g"])) == [name for name in names if name != "default"]


def test_some_recorded_sets_are_not_in_alphabetical_order():
    """Else an alphabetical ordered() would pass the test above."""
    printed = [case["pretty"] for recorded in RECORDED for case in recorded["flags"]]
    assert any("(subflow, backup)" in text for text in printed)


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_both_versions_print_the_property_alike(recorded):
    by_set = dict((case["set"], case["g"]) for case in recorded["flags"])
    assert by_set["signal,subflow,also-without-default-route"] == "0x38\n"
    assert by_set[""] == "0x0\n"
    pretty = dict((case["set"], case["pretty"]) for case in recorded["flags"])
    assert pretty["0x30"].split(":", 1)[1].strip() == "0x30 (signal, subflow)"
    assert pretty[""].split(":", 1)[1].strip() == "0x0 (default)"


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_nm_refuses_what_validate_flags_refuses(recorded):
    """Our own checks run first, so these never reach nmcli; this pins that NetworkManager
    itself refuses them too, and how."""
    refused = recorded["refused"]
    assert "cannot set both \"signal\" and \"fullmesh\"" in refused["signal,fullmesh"]["stderr"]
    assert "\"disabled\" flag cannot be combined" in refused["disabled,signal"]["stderr"]
    assert "invalid option 'bogus'" in refused["bogus"]["stderr"]
    assert all(result["rc"] != 0 for result in refused.values())


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_status_gives_the_daemon_version(recorded):
    general = recorded["general"]
    assert parse_status(general["rc"], general["stdout"], general["stderr"]) == \
        parse_version(recorded["version"])
    assert parse_version(recorded["nmcli_version"]["stdout"]) == parse_version(recorded["version"])


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_status_when_stopped_is_a_clear_error(recorded):
    stopped = recorded["general_stopped"]
    assert stopped["rc"] == 8
    with pytest.raises(MptcpError, match=r"NetworkManager is not running \(nmcli said: Error: "
                                         r"NetworkManager is not running.\); start it"):
        parse_status(stopped["rc"], stopped["stdout"], stopped["stderr"])


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_profiles_with_escaped_names(recorded):
    profiles = parse_profiles(recorded["connection_show"]["stdout"])
    by_name = dict((profile["name"], profile) for profile in profiles)
    assert set(by_name) >= set(["lab-eth0", "lab-eth1", "lo", ODD_NAME])
    assert by_name[ODD_NAME]["devices"] == ["mpt0"]
    assert by_name["lab-eth1"]["devices"] == ["eth1"]
    assert by_name["lab-eth1"]["type"] == "802-3-ethernet"
    assert all(len(profile["uuid"]) == 36 for profile in profiles)


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_plain_c_locale_loses_non_ascii(recorded):
    """Why nmcli must run in a UTF-8 locale: in C the name comes out with '?'."""
    names = [p["name"] for p in parse_profiles(recorded["connection_show_c_locale"]["stdout"])]
    assert ODD_NAME not in names
    assert u'lab "v6": pr?fung\\x' in names


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_applied_connection(recorded):
    assert parse_device_path(recorded["device_path"]["stdout"]).startswith(
        "/org/freedesktop/NetworkManager/Devices/")
    # The odd name's quotes and backslash are escaped by busctl and do not confuse it.
    assert parse_applied_flags(recorded["applied_odd_subflow"]["stdout"]) == frozenset(["subflow"])
    # At 0 NetworkManager leaves the key out of the applied connection.
    assert '"mptcp-flags"' not in recorded["applied_eth1_zero"]["stdout"]
    assert parse_applied_flags(recorded["applied_eth1_zero"]["stdout"]) == frozenset()
    # `connection modify` alone does not change what the device runs; reapply does.
    assert parse_applied_flags(recorded["applied_eth1_zero_before_reapply"]["stdout"]) == frozenset()
    assert parse_applied_flags(recorded["applied_eth1_signal_subflow"]["stdout"]) == \
        frozenset(["signal", "subflow"])


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_print_config_of_the_lab_sets_no_default(recorded):
    assert parse_print_config(recorded["print_config"]["stdout"]) is None


@pytest.mark.parametrize("recorded", RECORDED, ids=IDS)
def test_kernel_side(recorded):
    endpoints = parse_endpoints(recorded["ip_endpoints"]["stdout"])
    by_dev = dict((endpoint["dev"], endpoint) for endpoint in endpoints)
    assert by_dev["eth1"]["flags"] == ["signal", "subflow"]
    assert by_dev["eth0"]["flags"] == ["subflow"]
    assert isinstance(by_dev["eth1"]["id"], int)
    # The IPv6-only profile has no IPv6 default route, so NM made no endpoint for mpt0.
    assert "mpt0" not in by_dev
    assert has_default_route(recorded["ip_route_default_4"]["stdout"]) is True
    assert has_default_route(recorded["ip_route_default_6"]["stdout"]) is False
    mpt0 = parse_addresses(recorded["ip_addr_mpt0"]["stdout"])
    assert ("2001:db8:21::10", 6, True) in mpt0
    assert [entry for entry in mpt0 if entry[2] is False and entry[0].startswith("fe80:")]
    eth1 = parse_addresses(recorded["ip_addr_eth1"]["stdout"])
    assert [(family, candidate) for _address, family, candidate in eth1] == [(4, True)]
