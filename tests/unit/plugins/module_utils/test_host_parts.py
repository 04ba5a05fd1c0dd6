"""mptcp_host's parts: the parameters each part's module gets from the role's variables
and what the host has, and the batch over the parts (order, undo last first, one error)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import MptcpError
from ansible_collections.mptcp.linux.plugins.module_utils.host import parts
from ansible_collections.mptcp.linux.plugins.module_utils.host.ensure import QuietHost, converge, report
from ansible_collections.mptcp.linux.plugins.module_utils.host.readiness import HostReadiness
from ansible_collections.mptcp.linux.plugins.module_utils.host.request import HostRequest

LIBRARY = "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"
DEFAULTS = dict(state="present", sysctl={"enabled": 1}, sysctl_path="/etc/sysctl.d/90-mptcp.conf", limits={},
                endpoints=[], endpoints_exclusive=False, routing_via="auto", routing_table_range=[1000, 1999],
                routing_priority_range=[1000, 1999], rp_filter="loose", nm_profiles=[], persist=True,
                mptcpize_services=[], go_services_tcp_only=[], unit_name="mptcp-pm.service", dropin_name="50-mptcp.conf", unit_dir="/etc/systemd/system",
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


# --- socket units and Go services (issue 22) ----------------------------------------------

def test_socket_units_get_socket_protocol_go_services_godebug_and_services_the_preload():
    wanted = request(mptcpize_services=["iperf3", "echo.socket"], go_services_tcp_only=["etcd"])
    params = parts.systemd_present(wanted, Readiness(), {})
    dropin = params["dropin"]
    assert dropin["services"] == ["iperf3.service"] and LIBRARY in dropin["content"]
    assert sorted(dropin["contents"]) == ["echo.socket", "etcd.service"]
    assert dropin["contents"]["echo.socket"].endswith("[Socket]\nSocketProtocol=mptcp\n")
    assert "LD_PRELOAD" not in dropin["contents"]["echo.socket"] and "After=" not in dropin["contents"]["echo.socket"]
    assert dropin["contents"]["etcd.service"].endswith('[Service]\nEnvironment="GODEBUG=multipathtcp=0"\n')


def test_only_preloaded_services_are_ordered_after_the_boot_unit():
    # A socket starts before basic.target, the boot unit after network-online.target:
    # Before=echo.socket in the boot unit would be an ordering cycle.
    wanted = request(limits={"subflows": 2}, mptcpize_services=["iperf3", "echo.socket"], go_services_tcp_only=["etcd"])
    content = parts.systemd_present(wanted, Readiness(), {})["unit"]["content"]
    assert "Before=iperf3.service\n" in content and "echo.socket" not in content and "etcd" not in content


def test_socket_units_and_go_services_need_no_library():
    wanted = request(mptcpize_services=["echo.socket"], go_services_tcp_only=["etcd"])
    dropin = parts.systemd_present(wanted, Readiness(library=""), {})["dropin"]
    assert dropin["services"] == [] and dropin["content"] is None and sorted(dropin["contents"]) == [
        "echo.socket", "etcd.service"]


def test_absent_removes_every_drop_in_of_the_name():
    dropin = parts.systemd_absent(request(state="absent", mptcpize_services=["echo.socket"]), Readiness(), {})["dropin"]
    assert dropin["services"] == [] and not dropin["contents"]


@pytest.mark.parametrize("go, services, message", [
    (["a b"], [], "mptcp_go_services_tcp_only[0]='a b.service': not a unit name"),
    (["etcd.socket"], [], "mptcp_go_services_tcp_only[0]='etcd.socket': GODEBUG=multipathtcp=0 is read by the Go program"),
    (["etcd"], ["etcd.service"], "mptcp_go_services_tcp_only[0]='etcd.service' is also in mptcp_mptcpize_services"),
    (["etcd.service"], ["etcd"], "mptcp_go_services_tcp_only[0]='etcd.service' is also in mptcp_mptcpize_services"),
])
def test_go_services_are_services_not_moved_onto_mptcp_too(go, services, message):
    with pytest.raises(MptcpError) as error:
        request(go_services_tcp_only=go, mptcpize_services=services)
    assert message in str(error.value)


class SystemdHost:
    """A host for HostReadiness: only systemctl (of `version`, or none) and ip are found."""

    def __init__(self, version_line):
        self.version_line = version_line

    def bin_path(self, name):
        return {"systemctl": "/usr/bin/systemctl" if self.version_line is not None else None,
                "ip": "/usr/sbin/ip"}.get(name)

    def run(self, argv):
        if argv[0] == "/usr/bin/systemctl":
            return 0, self.version_line, ""
        if argv[1:] == ["mptcp", "help"]:
            return 255, "", "Usage:\tip mptcp endpoint add ADDRESS [ dev NAME ] [ id ID ]\nFLAG  := [ signal ]\n"
        return 0, "ip utility, iproute2-6.15.0\n", ""


@pytest.mark.parametrize("version_line, problem", [
    ("systemd 257 (257.13-1~deb13u1)\n", None),
    ("systemd 262 (262-1)\n", None),
    ("systemd 256 (256.7-1)\n", "h1 has systemd 256"),
    ("systemd 252 (252.39-1~deb12u2)\n", "h1 has systemd 252"),
    ("", "h1 has a systemd whose version systemctl --version does not tell"),
    (None, "h1 has no systemd (systemctl not found)"),
])
def test_socket_units_need_systemd_257_or_later(version_line, problem):
    wanted = request(mptcpize_services=["echo.socket"])
    readiness = HostReadiness(wanted, SystemdHost(version_line))
    found = [p for p in readiness.problems(wanted, check_mode=False) if "echo.socket" in p]
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0] and "SocketProtocol=mptcp" in found[0], found
        assert "mptcp_mptcpize_services lists echo.socket" in found[0]
    # A host that runs no socket unit of the list is not asked about systemd.
    plain = request(go_services_tcp_only=["etcd"])
    assert not [p for p in HostReadiness(plain, SystemdHost(version_line)).problems(plain, False) if "systemd" in p]


def test_socket_units_need_no_mptcpize_package():
    wanted = request(mptcpize_services=["echo.socket"])
    readiness = HostReadiness(wanted, SystemdHost("systemd 257 (257.13-1~deb13u1)\n"))
    readiness.library = ""
    assert "mptcpize" not in readiness.missing(wanted)
    assert "mptcpize" in readiness.missing(request(mptcpize_services=["echo.socket", "iperf3"]))
