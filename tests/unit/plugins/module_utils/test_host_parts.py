"""mptcp_host's parts: the parameters each part's module gets from the role's variables
and what the host has, and the batch over the parts (order, undo last first, one error)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.host import parts
from ansible_collections.mptcp.linux.plugins.module_utils.host.ensure import QuietHost, converge, report
from ansible_collections.mptcp.linux.plugins.module_utils.host.request import HostRequest

LIBRARY = "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"
DEFAULTS = dict(state="present", sysctl={"enabled": 1}, sysctl_path="/etc/sysctl.d/90-mptcp.conf", limits={},
                endpoints=[], endpoints_exclusive=False, routing_via="auto", routing_table_range=[1000, 1999],
                routing_priority_range=[1000, 1999], rp_filter="loose", nm_profiles=[], persist=True,
                mptcpize_services=[], unit_name="mptcp-pm.service", dropin_name="50-mptcp.conf", unit_dir="/etc/systemd/system",
                library_dirs=["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib"], missing_packages="fail",
                host_name="h1", rejoin=False, rejoin_program="/usr/local/lib/mptcp-rejoin.py",
                rejoin_config="/etc/mptcp-rejoin.json")


def request(**params):
    return HostRequest(dict(DEFAULTS, **params))


class Readiness:
    def __init__(self, library=LIBRARY, rp_filter=None, supported=True):
        self.ip = "/usr/sbin/ip"
        self.library = library
        self.rp_filter = rp_filter or {}
        self.supported = supported
        self.facts = {"supported": supported}


def endpoint(address="198.18.2.10", **more):
    return dict(dict(address=address, id=None, dev="eth1", port=None, flags=["subflow"], gateway=None, table=None,
                     priority=None), **more)


def test_the_variables_are_checked_with_the_role_s_names_all_at_once():
    with pytest.raises(MptcpError) as error:
        request(limits={"subflows": 9}, mptcpize_services=["a b"])
    assert "mptcp_limits.subflows=9 is out of range" in str(error.value)
    assert "mptcp_mptcpize_services[0]='a b.service': not a unit name" in str(error.value)


def test_a_strict_rp_filter_on_an_endpoint_s_interface_is_loosened_in_the_sysctl_part():
    strict = {"eth1": {"all": 1, "dev": 1, "effective": 1, "strict": True}}
    params = parts.sysctl_present(request(endpoints=[endpoint()]), Readiness(rp_filter=strict), {})
    assert params["settings"] == {"enabled": 1, "net.ipv4.conf.eth1.rp_filter": 2}
    left = parts.sysctl_present(request(endpoints=[endpoint()], rp_filter="leave"), Readiness(rp_filter=strict), {})
    assert left["settings"] == {"enabled": 1}


def test_the_routing_part_runs_on_every_present_run_exclusive_and_only_with_routes_when_absent():
    present = parts.routing(request(endpoints=[endpoint()]), Readiness(), {})
    assert present["routes"] == [] and present["exclusive"] is True
    assert parts.routing(request(endpoints=[endpoint()]), Readiness(), {}, "absent") is None
    routed = parts.routing(request(endpoints=[endpoint(gateway="198.18.2.1")]), Readiness(), {}, "absent")
    assert routed["routes"] == [{"address": "198.18.2.10", "gateway": "198.18.2.1", "dev": "eth1"}]
    assert routed["exclusive"] is False


def test_the_path_manager_part_gets_the_endpoints_without_the_routing_keys():
    params = parts.path_manager(request(limits={"subflows": 2}, endpoints=[endpoint(gateway="198.18.2.1")]),
                                Readiness(), {})
    assert params["limits"] == {"subflows": 2}
    assert params["endpoints"] == [{"address": "198.18.2.10", "id": None, "dev": "eth1", "port": None,
                                    "flags": ["subflow"]}]
    assert parts.path_manager(request(), Readiness(), {}) is None


def test_the_boot_unit_holds_the_routes_the_routing_part_keeps_in_the_kernel():
    kept = {"address": "198.18.2.10", "gateway": "198.18.2.1", "dev": "eth1", "table": 1000, "priority": 1000,
            "family": "ipv4", "via": "kernel", "profile": None, "prefix": "198.18.2.0/24"}
    by_nm = dict(kept, address="198.18.3.10", via="networkmanager", profile="lab-eth2")
    params = parts.systemd_present(request(limits={"subflows": 2}), Readiness(), {"routing": {"routes": [kept, by_nm]}})
    content = params["unit"]["content"]
    assert params["unit"]["state"] == "present"
    assert '"from" "198.18.2.10"' in content and "198.18.3.10" not in content, content
    assert parts.systemd_present(request(), Readiness(), {})["unit"]["state"] == "absent"


def test_drop_ins_are_left_alone_where_the_library_is_unknown_or_elsewhere():
    wanted = request(mptcpize_services=["iperf3"])
    params = parts.systemd_present(wanted, Readiness(), {})
    assert params["dropin"]["services"] == ["iperf3.service"] and LIBRARY in params["dropin"]["content"]
    assert parts.systemd_present(wanted, Readiness(library=""), {})["dropin"] is None
    assert parts.systemd_present(wanted, Readiness(library="/opt/x/libmptcpwrap.so.0"), {})["dropin"] is None
    assert parts.systemd_present(request(), Readiness(library=""), {})["dropin"]["services"] == []


def test_absent_turns_mptcp_off_and_drops_the_other_settings_it_persisted():
    wanted = request(state="absent")
    assert parts.sysctl_off(wanted, Readiness(), {})["settings"] == {"enabled": 0}
    others = parts.sysctl_others_absent(wanted, Readiness(), {"sysctl": {"persisted": {
        "enabled": 0, "add_addr_timeout": 60}}})
    assert others["settings"] == {"add_addr_timeout": 60} and others["state"] == "absent"
    assert parts.sysctl_off(wanted, Readiness(supported=False), {}) is None


class Recorder:
    def __init__(self):
        self.events = []
        self.warnings = []


def fake_part(name, recorder, changed=True, refuse=False, undo_problems=()):
    def run(params, check_mode, host):
        recorder.events.append("run %s" % name)
        if refuse:
            raise MptcpError("%s refused" % name, backend="iproute2")

        def undo():
            recorder.events.append("undo %s" % name)
            return list(undo_problems)
        return dict(changed=changed, changes=["change %s" % name] if changed else [], warnings=["w %s" % name]), \
            (undo if changed else None)
    return parts.Part(name, "mptcp.linux.mptcp_" + name, lambda r, h, res: {}, run)


def test_a_refused_part_undoes_the_changed_parts_before_it_last_first_in_one_error():
    recorder = Recorder()
    batch = [fake_part("a", recorder), fake_part("b", recorder, changed=False), fake_part("c", recorder),
             fake_part("d", recorder, refuse=True), fake_part("e", recorder)]
    with pytest.raises(MptcpError) as error:
        converge(batch, request(), Readiness(), False, recorder)
    assert recorder.events == ["run a", "run b", "run c", "run d", "undo c", "undo a"]
    assert str(error.value) == ("d: d refused. The 2 step(s) already done were undone: a (change a); c (change c).")
    assert error.value.details == {"part": "d", "backend": "iproute2"}


def test_a_failed_undo_says_what_is_left():
    recorder = Recorder()
    batch = [fake_part("a", recorder, undo_problems=["x could not be put back"]), fake_part("b", recorder, refuse=True)]
    with pytest.raises(MptcpError) as error:
        converge(batch, request(), Readiness(), False, recorder)
    assert "UNDO FAILED, the host is left half changed: undoing 'a (change a)': x could not be put back" in str(error.value)


def test_the_report_names_each_part_its_module_and_the_parts_that_changed():
    recorder = Recorder()
    ran = converge([fake_part("a", recorder), fake_part("b", recorder, changed=False)], request(), Readiness(), True,
                   QuietHost(recorder))
    result = report(request(), Readiness(), ran)
    assert [(p["name"], p["module"], p["changed"]) for p in result["parts"]] == [
        ("a", "mptcp.linux.mptcp_a", True), ("b", "mptcp.linux.mptcp_b", False)]
    assert result["changed"] is True and result["changed_parts"] == ["a"] and result["msg"] == "changed: a"
