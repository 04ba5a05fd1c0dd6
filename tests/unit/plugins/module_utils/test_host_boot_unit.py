"""The role's boot unit (mptcp-pm.service), as mptcp_host writes it, runs the commands the
iproute2 backends build: its ExecStart lines; and the drop-in preloads the library."""

from ansible_collections.mptcp.linux.plugins.module_utils.host.boot_unit import boot_commands, dropin_text, unit_text
from ansible_collections.mptcp.linux.plugins.module_utils.systemd.unit_text import exec_line as systemd_exec
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import make_endpoint
from ansible_collections.mptcp.linux.plugins.module_utils.routing.backend_iproute2 import boot_argv

ENDPOINTS = [{"address": "198.18.1.1", "flags": ["signal"]},
             {"address": "198.18.2.1", "id": 3, "port": 5555, "flags": ["signal"]},
             {"address": "2001:db8::1", "dev": "eth1", "id": "4", "flags": ["subflow", "backup"]}]


def render(**variables):
    """The unit for the role's variables (named as the role's template had them)."""
    values = dict(__mptcp_services=[], __mptcp_ip="/usr/sbin/ip", mptcp_endpoints_exclusive=False, __mptcp_boot_routes=[],
                  mptcp_limits={}, mptcp_endpoints=[])
    values.update(variables)
    return unit_text(values["__mptcp_ip"], values["mptcp_limits"], values["mptcp_endpoints"],
                     values["mptcp_endpoints_exclusive"], values["__mptcp_boot_routes"], values["__mptcp_services"])


def service_lines(text):
    section = text.split("[Service]\n", 1)[1].split("\n\n", 1)[0]
    return section.splitlines()


def test_the_unit_flushes_sets_the_limits_given_and_adds_each_endpoint():
    lines = service_lines(render(mptcp_endpoints_exclusive=True, mptcp_limits={"subflows": 2, "add_addr_accepted": 1},
                                 mptcp_endpoints=ENDPOINTS))
    assert lines == [
        "Type=oneshot",
        "RemainAfterExit=yes",
        'ExecStart="/usr/sbin/ip" "mptcp" "endpoint" "flush"',
        'ExecStart="/usr/sbin/ip" "mptcp" "limits" "set" "subflows" "2" "add_addr_accepted" "1"',
        '# "-": a rule, route or endpoint that is there already (NetworkManager\'s, or a restart of',
        '# this unit) is kept, and the commands after it still run.',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.1.1" "signal"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.2.1" "id" "3" "port" "5555" "signal"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "2001:db8::1" "dev" "eth1" "id" "4" "subflow" "backup"',
    ]


def test_a_limit_left_out_is_not_set_and_no_endpoint_means_no_comment():
    assert service_lines(render(mptcp_limits={"subflows": "3"})) == [
        "Type=oneshot", "RemainAfterExit=yes", 'ExecStart="/usr/sbin/ip" "mptcp" "limits" "set" "subflows" "3"']
    assert service_lines(render()) == ["Type=oneshot", "RemainAfterExit=yes"]


def test_the_endpoint_lines_are_the_backend_s_own_argument_lists():
    lines = [line for line in service_lines(render(mptcp_endpoints=ENDPOINTS)) if line.startswith("ExecStart=-")]
    built = [Iproute2Backend.add_args(make_endpoint(e["address"], e.get("id") and int(e["id"]), e.get("port"),
                                                    e.get("dev"), e["flags"])) for e in ENDPOINTS]
    assert lines == ["ExecStart=-" + systemd_exec(["/usr/sbin/ip"] + argv) for argv in built]


# Routes as mptcp_source_routing returns them (tables and priorities resolved).
ROUTES = [{"address": "198.18.2.2", "gateway": "198.18.2.1", "dev": "eth1", "table": 1000, "priority": 1000,
           "family": "ipv4", "via": "kernel", "profile": None, "prefix": "198.18.2.0/24"},
          {"address": "2001:db8:2::2", "gateway": "2001:db8:2::1", "dev": "eth1", "table": 1001, "priority": 1001,
           "family": "ipv6", "via": "kernel", "profile": None, "prefix": "2001:db8:2::/64"}]


def test_the_routes_come_first_as_the_routing_backend_builds_them_and_never_stop_the_unit():
    """A subflow from an endpoint must find its gateway from the start, and a rule there
    already (the unit started again) must not keep the endpoints out."""
    endpoints = [dict(ENDPOINTS[0]), {"address": "198.18.2.2", "dev": "eth1", "gateway": "198.18.2.1", "table": 1000,
                                      "flags": ["subflow"]}]
    lines = [line for line in service_lines(render(mptcp_endpoints=endpoints, mptcp_limits={"subflows": 2},
                                                   __mptcp_boot_routes=ROUTES)) if line.startswith("ExecStart")]
    routing = ["ExecStart=-" + systemd_exec(["/usr/sbin/ip"] + argv) for route in ROUTES for argv in boot_argv(route)]
    assert len(routing) >= 4
    assert lines[:len(routing)] == routing
    assert lines[len(routing):] == [
        'ExecStart="/usr/sbin/ip" "mptcp" "limits" "set" "subflows" "2"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.1.1" "signal"',
        'ExecStart=-"/usr/sbin/ip" "mptcp" "endpoint" "add" "198.18.2.2" "dev" "eth1" "subflow"']
    commands = boot_commands("/usr/sbin/ip", routes=ROUTES)
    assert all(command["keep_going"] for command in commands) and len(commands) == len(routing)


def test_no_route_means_no_routing_command():
    assert boot_commands("/usr/sbin/ip", {"subflows": 1}, routes=[]) == boot_commands("/usr/sbin/ip", {"subflows": 1})


def test_the_unit_is_ordered_before_the_services_and_installed_for_boot():
    text = render(mptcp_limits={"subflows": 2}, __mptcp_services=["iperf3.service", "nginx.service"])
    unit = text.split("[Service]", 1)[0]
    assert "\nBefore=iperf3.service nginx.service\n" in unit
    assert "\nAfter=network-online.target NetworkManager.service\n" in unit
    assert text.endswith("\n[Install]\nWantedBy=multi-user.target\n")
    assert "Before=" not in render(mptcp_limits={"subflows": 2})


def test_the_dropin_runs_after_the_unit_with_the_library_preloaded_and_quoted():
    text = dropin_text("mptcp-pm.service", "/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1")
    assert "[Unit]\nAfter=mptcp-pm.service\n" in text
    assert text.endswith('[Service]\nEnvironment="LD_PRELOAD=/usr/lib/x86_64-linux-gnu/mptcpize/libmptcpwrap.so.0.0.1"\n')
