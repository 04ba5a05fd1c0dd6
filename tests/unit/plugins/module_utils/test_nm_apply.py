"""nm_apply: what changes when, the diff, writing all or nothing, applying, the warnings
and the check of the endpoints, with a fake NetworkManager and a fake kernel."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError, ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.apply import (
    ProfilePlan,
    apply_devices,
    check_outcome,
    condition_warnings,
    effective_flags,
    endpoint_problems,
    expected_endpoints,
    make_plans,
    report_profiles,
    requests_from_params,
    resolve,
    track,
    wait_for_endpoints,
    write_profiles,
)

F = frozenset
ETH0 = dict(name="lab-eth0", uuid="u-0", type="802-3-ethernet", devices=["eth0"])
ETH1 = dict(name="lab-eth1", uuid="u-1", type="802-3-ethernet", devices=["eth1"])
SPARE = dict(name="spare", uuid="u-2", type="802-3-ethernet", devices=[])


class FakeClient:
    """NetworkManager's state: saved flags by UUID, the flags each device runs, and the
    profile active on each device. Records what it is asked to do."""

    def __init__(self, saved, running, active, default=None, fail_write=None, fail_apply=None):
        self.saved = dict(saved)
        self.running = dict(running)
        self.active = dict(active)
        self.default = default
        self.fail_write = fail_write
        self.fail_apply = fail_apply
        self.calls = []

    def read_flags_of(self, uuids):
        return dict((uuid, self.saved[uuid]) for uuid in uuids)

    def write_flags(self, uuid, flags):
        self.calls.append(("write", uuid, flags))
        if uuid == self.fail_write:
            raise MptcpError("setting connection.mptcp-flags of profile %s failed" % uuid)
        self.saved[uuid] = flags

    def applied_flags(self, device):
        return self.running.get(device)

    def _apply(self, device):
        if device == self.fail_apply:
            raise MptcpError("reapplying the profile of %s failed" % device)
        self.running[device] = self.saved[self.active[device]]

    def reapply(self, device):
        self.calls.append(("reapply", device))
        self._apply(device)

    def reactivate(self, uuid, device):
        self.calls.append(("reactivate", uuid, device))
        self._apply(device)

    def default_flags(self):
        self.calls.append(("default",))
        return self.default


class FakeHost:
    def __init__(self, enabled=True, routes=None, addresses=None, endpoints=None):
        self.enabled = enabled
        self.routes = routes if routes is not None else {4: True, 6: False}
        self.addr = addresses or {"eth0": [("198.18.1.10", 4, True)],
                                  "eth1": [("198.18.2.10", 4, True), ("fe80::1", 6, False)]}
        self.endpoint_list = endpoints if endpoints is not None else []
        self.reads = 0

    def mptcp_enabled(self):
        return self.enabled

    def default_route(self, family):
        return self.routes[family]

    def addresses(self, device):
        return self.addr[device]

    def endpoints(self):
        self.reads += 1
        return self.endpoint_list


def _client(saved1=F(), running1=F(), saved0=F(["subflow"]), running0=F(["subflow"]), **kwargs):
    return FakeClient({"u-0": saved0, "u-1": saved1, "u-2": F()},
                      {"eth0": running0, "eth1": running1},
                      {"eth0": "u-0", "eth1": "u-1"}, **kwargs)


def _plans(client, wanted, mode="reapply", profiles=(ETH1,)):
    return make_plans([(profile, F(wanted)) for profile in profiles], client, mode)


# --- requests ----------------------------------------------------------------------------

def test_requests_single_and_list():
    assert requests_from_params("lab-eth1", ["subflow", "signal"], None) == [("lab-eth1", F(["signal", "subflow"]))]
    assert requests_from_params(None, None, [dict(name="a", flags=[]), dict(name="b", flags=["backup"])]) == [
        ("a", F()), ("b", F(["backup"]))]


@pytest.mark.parametrize("name, flags, profiles, message", [
    ("lab-eth1", ["signal", "fullmesh"], None, "profile 'lab-eth1': 'signal' and 'fullmesh'"),
    (None, None, [dict(name="a", flags=[]), dict(name="b", flags=["disabled", "backup"])],
     r"profiles\[1\] \('b'\): 'disabled' cannot be combined"),
    (None, None, [dict(name="", flags=[])], r"profiles\[0\] \(''\): a profile name or UUID is required"),
    (None, None, [dict(name="a", flags=["subflows"])], r"profiles\[0\] \('a'\): unknown flag 'subflows'"),
])
def test_requests_refused_naming_the_entry(name, flags, profiles, message):
    with pytest.raises(ValidationError, match=message):
        requests_from_params(name, flags, profiles)


def test_resolve_refuses_a_profile_given_twice():
    with pytest.raises(ValidationError, match="profile 'lab-eth1' \\(u-1\\) is given twice, as 'lab-eth1' and 'u-1'"):
        resolve([("lab-eth1", F()), ("u-1", F(["signal"]))], [ETH0, ETH1])


def test_resolve_missing_profile_lists_the_others():
    with pytest.raises(ValidationError, match='profile "nope" not found; the profiles are: "lab-eth0", "lab-eth1"'):
        resolve([("lab-eth0", F()), ("nope", F())], [ETH0, ETH1])


# --- plans -------------------------------------------------------------------------------

def test_same_set_in_another_order_changes_nothing():
    client = _client(saved1=F(["signal", "subflow"]), running1=F(["signal", "subflow"]))
    plan, = _plans(client, ["subflow", "signal"])
    assert not plan.changed and plan.apply_devices == [] and plan.applied_how() == "none"


def test_changed_profile_is_written_and_reapplied():
    plan, = _plans(_client(), ["signal", "subflow"])
    assert plan.write and plan.apply_devices == ["eth1"] and plan.applied_how() == "reapply"


def test_apply_none_only_saves():
    plan, = _plans(_client(), ["signal"], mode="none")
    assert plan.write and plan.apply_devices == [] and plan.applied_how() == "none"
    assert plan.running_after() == {"eth1": F()}


def test_device_left_behind_by_apply_none_is_applied_later():
    client = _client(saved1=F(["signal"]), running1=F())
    plan, = _plans(client, ["signal"], mode="reactivate")
    assert not plan.write and plan.apply_devices == ["eth1"] and plan.changed
    assert plan.applied_how() == "reactivate"
    plan, = _plans(client, ["signal"], mode="none")
    assert not plan.changed


def test_unknown_running_flags_apply_only_on_a_profile_change():
    client = _client(saved1=F(["signal"]))
    client.running = {}
    plan, = _plans(client, ["signal"])
    assert not plan.changed
    plan, = _plans(client, ["subflow"])
    assert plan.apply_devices == ["eth1"] and plan.running_after() == {"eth1": F(["subflow"])}


def test_inactive_profile_is_saved_only():
    client = _client()
    plan, = _plans(client, ["backup"], profiles=(SPARE,))
    assert plan.write and plan.apply_devices == [] and plan.applied_how() == "not-active"


# --- diff --------------------------------------------------------------------------------

def test_diff_shows_profiles_and_devices_as_ordered_lists():
    client = _client(saved1=F(["subflow"]), running1=F(["subflow"]))
    tracker = track(_plans(client, ["subflow", "signal", "also-without-default-route"],
                           profiles=(ETH0, ETH1)))
    assert tracker.diff() == {
        "before": {"lab-eth0": ["subflow"], "lab-eth0 on eth0": ["subflow"],
                   "lab-eth1": ["subflow"], "lab-eth1 on eth1": ["subflow"]},
        "after": {"lab-eth0": ["also-without-default-route", "signal", "subflow"],
                  "lab-eth0 on eth0": ["also-without-default-route", "signal", "subflow"],
                  "lab-eth1": ["also-without-default-route", "signal", "subflow"],
                  "lab-eth1 on eth1": ["also-without-default-route", "signal", "subflow"]},
    }
    assert tracker.changed


# nmcli prints a set in bit order, which is not the alphabetical one for these (recorded
# from NetworkManager 1.42 and 1.52: "0x60 (subflow, backup)", "0x7e (enabled,
# also-without-sysctl, also-without-default-route, signal, subflow, backup)").
SUBFLOW_BACKUP = ["subflow", "backup"]
MANY = ["enabled", "also-without-sysctl", "also-without-default-route", "signal", "subflow", "backup"]


def test_diff_lists_are_in_bit_order_not_alphabetical():
    client = _client(saved1=F(SUBFLOW_BACKUP), running1=F(SUBFLOW_BACKUP))
    tracker = track(_plans(client, MANY))
    assert tracker.diff() == {
        "before": {"lab-eth1": SUBFLOW_BACKUP, "lab-eth1 on eth1": SUBFLOW_BACKUP},
        "after": {"lab-eth1": MANY, "lab-eth1 on eth1": MANY},
    }
    assert sorted(MANY) != MANY and sorted(SUBFLOW_BACKUP) != SUBFLOW_BACKUP


def test_reported_profiles_list_flags_in_bit_order():
    client = _client(saved1=F(SUBFLOW_BACKUP), running1=F(SUBFLOW_BACKUP))
    plans = _plans(client, ["fullmesh", "enabled", "also-without-sysctl"])
    write_profiles(client, plans)
    apply_devices(client, plans)
    profiles, warnings = report_profiles(plans, client, applied=True)
    assert warnings == []
    assert profiles == [dict(name="lab-eth1", uuid="u-1", devices=["eth1"], flags_before=SUBFLOW_BACKUP,
                             flags_after=["enabled", "also-without-sysctl", "fullmesh"],
                             running={"eth1": ["enabled", "also-without-sysctl", "fullmesh"]},
                             applied="reapply")]


def test_diff_with_apply_none_shows_the_device_keeps_its_flags():
    tracker = track(_plans(_client(), ["signal"], mode="none"))
    assert tracker.diff()["after"] == {"lab-eth1": ["signal"], "lab-eth1 on eth1": []}


def test_profiles_sharing_a_name_are_labelled_with_their_uuid():
    twin_a = dict(ETH1, name="twin")
    twin_b = dict(SPARE, name="twin")
    plans = _plans(_client(), [], profiles=(twin_a, twin_b))
    assert [plan.label for plan in plans] == ["twin (u-1)", "twin (u-2)"]
    assert not track(plans).changed


# --- writing and applying ----------------------------------------------------------------

def test_write_sets_back_what_was_written_when_one_fails():
    client = _client(fail_write="u-1")
    plans = _plans(client, ["signal"], profiles=(ETH0, ETH1))
    with pytest.raises(MptcpError, match="profile u-1 failed; set back: lab-eth0"):
        write_profiles(client, plans)
    assert client.saved["u-0"] == F(["subflow"])
    assert client.calls == [("write", "u-0", F(["signal"])), ("write", "u-1", F(["signal"])),
                            ("write", "u-0", F(["subflow"]))]


def test_write_skips_unchanged_profiles():
    client = _client(saved0=F(["signal"]))
    write_profiles(client, _plans(client, ["signal"], profiles=(ETH0, ETH1)))
    assert client.calls == [("write", "u-1", F(["signal"]))]


@pytest.mark.parametrize("mode, call", [
    ("reapply", ("reapply", "eth1")),
    ("reactivate", ("reactivate", "u-1", "eth1")),
])
def test_apply_modes(mode, call):
    client = _client()
    plans = _plans(client, ["signal"], mode=mode)
    write_profiles(client, plans)
    apply_devices(client, plans)
    assert client.calls[-1] == call
    assert client.running["eth1"] == F(["signal"])


def test_apply_none_runs_nothing():
    client = _client()
    plans = _plans(client, ["signal"], mode="none")
    apply_devices(client, plans)
    assert client.calls == []


def test_failed_reapply_says_the_profile_is_saved_and_suggests_reactivate():
    client = _client(fail_apply="eth1")
    plans = _plans(client, ["signal", "subflow"])
    write_profiles(client, plans)
    with pytest.raises(MptcpError, match=r"Profile lab-eth1 is saved with flags \[signal, subflow\] "
                                         r"but eth1 does not run them yet \(.*apply=reactivate"):
        apply_devices(client, plans)


# --- warnings ----------------------------------------------------------------------------

def _plan():
    return ProfilePlan(ETH1, F(), F(), {}, "reapply")


@pytest.mark.parametrize("flags, enabled, families, routes, found", [
    (["enabled", "subflow"], True, {4}, {4: True}, []),
    (["enabled", "subflow"], False, {4}, {4: True}, ["net.mptcp.enabled is 0"]),
    (["enabled", "subflow", "also-without-sysctl"], False, {4}, {4: True}, []),
    (["enabled", "subflow"], None, {4}, {4: True}, ["this kernel has no MPTCP"]),
    (["enabled", "subflow"], True, {4, 6}, {4: True, 6: False}, ["no IPv6 default route"]),
    (["enabled", "subflow", "also-without-default-route"], True, {6}, {6: False}, []),
    (["enabled", "subflow"], False, {6}, {6: False}, ["net.mptcp.enabled is 0", "no IPv6 default route"]),
    (["disabled"], False, {6}, {6: False}, []),
    (["enabled", "signal"], True, set(), {}, []),
])
def test_condition_warnings(flags, enabled, families, routes, found):
    warnings = condition_warnings(_plan(), F(flags), enabled, families, routes)
    assert len(warnings) == len(found)
    for warning, text in zip(warnings, found):
        assert warning.startswith("profile lab-eth1: ") and text in warning


def test_expected_endpoints_follow_the_conditions():
    addresses = [("198.18.2.10", 4, True), ("2001:db8::10", 6, True), ("fe80::1", 6, False)]
    flags = F(["enabled", "signal", "subflow"])
    assert expected_endpoints(addresses, flags, True, {4: True, 6: False}) == {"198.18.2.10": ["signal", "subflow"]}
    assert expected_endpoints(addresses, flags | F(["also-without-default-route"]), True, {4: True, 6: False}) == {
        "198.18.2.10": ["signal", "subflow"], "2001:db8::10": ["signal", "subflow"]}
    assert expected_endpoints(addresses, flags, False, {4: True, 6: True}) == {}
    assert expected_endpoints(addresses, F(["disabled"]), False, {4: False, 6: False}) == {
        "198.18.2.10": None, "2001:db8::10": None}


def test_endpoint_problems():
    endpoints = [dict(address="198.18.2.10", id=2, flags=["subflow"], dev="eth1"),
                 dict(address="2001:db8:0::10", id=3, flags=["signal", "implicit"], dev="mpt0")]
    assert endpoint_problems({"198.18.2.10": ["subflow"], "2001:db8::10": ["signal"]}, endpoints) == []
    assert endpoint_problems({"198.18.2.10": ["signal"], "198.18.1.10": ["subflow"],
                              "2001:db8::10": None}, endpoints) == [
        "198.18.1.10 has no endpoint (expected one with [subflow])",
        "198.18.2.10 has endpoint id 2 with [subflow], expected [signal]",
        "2001:db8::10 still has endpoint id 3"]


def test_wait_for_endpoints_polls_until_they_appear():
    seen = [[], [], [dict(address="198.18.2.10", id=1, flags=["signal"], dev="eth1")]]
    now = [0.0]
    endpoints, problems = wait_for_endpoints(lambda: seen.pop(0), {"198.18.2.10": ["signal"]},
                                             sleep=lambda s: now.__setitem__(0, now[0] + s),
                                             clock=lambda: now[0])
    assert problems == [] and endpoints[0]["id"] == 1 and now[0] == 0.5


def test_wait_for_endpoints_gives_up_after_the_timeout():
    now = [0.0]
    reads = []
    _endpoints, problems = wait_for_endpoints(lambda: reads.append(1) or [], {"198.18.2.10": ["signal"]},
                                              timeout=2.0, sleep=lambda s: now.__setitem__(0, now[0] + s),
                                              clock=lambda: now[0])
    assert problems and now[0] == 2.0 and len(reads) == 9


# --- after applying ----------------------------------------------------------------------

def test_effective_flags_reads_nm_conf_only_for_a_profile_going_to_zero():
    client = _client(default=F(["signal"]))
    assert effective_flags(_plans(client, ["subflow"]), client) == {"u-1": F(["enabled", "subflow"])}
    assert client.calls == []
    assert effective_flags(_plans(client, []), client) == {"u-1": F(["enabled", "signal"])}
    assert client.calls == [("default",)]


def test_check_outcome_applied_and_seen():
    client = _client()
    plans = _plans(client, ["signal", "subflow"])
    host = FakeHost(endpoints=[dict(address="198.18.2.10", id=2, flags=["signal", "subflow"], dev="eth1"),
                               dict(address="198.18.1.10", id=1, flags=["subflow"], dev="eth0")])
    warnings, endpoints = check_outcome(plans, effective_flags(plans, client), host, applied=True)
    assert warnings == []
    assert endpoints == [dict(address="198.18.2.10", id=2, flags=["signal", "subflow"], dev="eth1",
                              profile="lab-eth1", device="eth1")]


def test_check_outcome_warns_when_the_kernel_does_not_follow(monkeypatch):
    monkeypatch.setattr("ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.apply.time.sleep",
                        lambda s: None)
    clock = iter(range(1000))
    monkeypatch.setattr("ansible_collections.mptcp.linux.plugins.module_utils.networkmanager.apply.time.monotonic",
                        lambda: next(clock))
    client = _client()
    plans = _plans(client, ["signal"])
    host = FakeHost(endpoints=[dict(address="198.18.2.10", id=2, flags=["subflow"], dev="eth1")])
    warnings, _endpoints = check_outcome(plans, effective_flags(plans, client), host, applied=True)
    assert warnings == ["profile lab-eth1 was applied to eth1 (reapply) but after 10 s the kernel "
                        "shows: 198.18.2.10 has endpoint id 2 with [subflow], expected [signal]"]


def test_check_outcome_in_check_mode_reads_once_and_verifies_nothing():
    client = _client()
    plans = _plans(client, ["signal"])
    host = FakeHost(enabled=False)
    warnings, endpoints = check_outcome(plans, effective_flags(plans, client), host, applied=False)
    assert host.reads == 1 and endpoints == []
    assert len(warnings) == 1 and "net.mptcp.enabled is 0" in warnings[0]


def test_check_outcome_inactive_profile_reads_no_endpoints():
    client = _client()
    plans = _plans(client, ["signal"], profiles=(SPARE,))
    host = FakeHost()
    assert check_outcome(plans, effective_flags(plans, client), host, applied=True) == ([], [])
    assert host.reads == 0


class BrokenHost(FakeHost):
    def addresses(self, device):
        if device == "eth0":
            raise MptcpError("ip -j address show dev eth0 exited 1: Device \"eth0\" does not exist.")
        return FakeHost.addresses(self, device)

    def endpoints(self):
        raise MptcpError("ip -j mptcp endpoint show exited 255: Object \"mptcp\" is unknown")


# BrokenHost's errors, as warnings.
READ_ERRORS = ['cannot read the addresses of eth0: ip -j address show dev eth0 exited 1: '
               'Device "eth0" does not exist.',
               'cannot read the MPTCP endpoints: ip -j mptcp endpoint show exited 255: '
               'Object "mptcp" is unknown']


def test_check_outcome_after_applying_warns_instead_of_failing_on_read_errors():
    """After applying (the profiles are saved and applied already), a device gone and
    endpoints that cannot be read are warnings: failing would report a change as an
    error. Endpoints not read are not reported as missing either."""
    client = _client()
    plans = _plans(client, ["signal"], profiles=(ETH0, ETH1))
    write_profiles(client, plans)
    apply_devices(client, plans)
    # The path named: both devices were applied to, so their endpoints are waited for.
    assert [plan.apply_devices for plan in plans] == [["eth0"], ["eth1"]]
    assert check_outcome(plans, effective_flags(plans, client), BrokenHost(), applied=True) == (READ_ERRORS, [])


def test_check_outcome_in_check_mode_warns_instead_of_failing_on_read_errors():
    client = _client()
    plans = _plans(client, ["signal"], profiles=(ETH0, ETH1))
    assert check_outcome(plans, effective_flags(plans, client), BrokenHost(), applied=False) == (READ_ERRORS, [])


def test_report_profiles_reads_the_devices_again_after_applying():
    client = _client()
    plans = _plans(client, ["signal", "subflow"], profiles=(ETH0, ETH1))
    write_profiles(client, plans)
    apply_devices(client, plans)
    client.running["eth0"] = F(["subflow"])  # as if NetworkManager had not taken it
    profiles, warnings = report_profiles(plans, client, applied=True)
    assert profiles[1] == dict(name="lab-eth1", uuid="u-1", devices=["eth1"], flags_before=[],
                               flags_after=["signal", "subflow"], running={"eth1": ["signal", "subflow"]},
                               applied="reapply")
    assert warnings == ["profile lab-eth0: after reapply, NetworkManager says eth0 runs [subflow], "
                        "not [signal, subflow]"]
