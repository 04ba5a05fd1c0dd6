"""The role's boot unit (mptcp-pm.service) runs the commands the iproute2 backend builds:
the unit's ExecStart lines as rendered from the role's template."""

import os

import jinja2

from ansible_collections.mptcp.linux.plugins.filter.boot_commands import boot_commands
from ansible_collections.mptcp.linux.plugins.filter.systemd import systemd_exec
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.backend_iproute2 import Iproute2Backend
from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import make_endpoint

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 4))
TEMPLATE = os.path.join(REPO, "roles", "mptcp", "templates", "mptcp-pm.service.j2")
ENDPOINTS = [{"address": "198.18.1.1", "flags": ["signal"]},
             {"address": "198.18.2.1", "id": 3, "port": 5555, "flags": ["signal"]},
             {"address": "2001:db8::1", "dev": "eth1", "id": "4", "flags": ["subflow", "backup"]}]


def render(**variables):
    """The template as Ansible's template lookup renders it (trim_blocks)."""
    values = dict(__mptcp_services=[], __mptcp_ip="/usr/sbin/ip", mptcp_endpoints_exclusive=False,
                  mptcp_limits={}, mptcp_endpoints=[])
    values.update(variables)
    env = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["mptcp.linux.boot_commands"] = boot_commands
    env.filters["mptcp.linux.systemd_exec"] = systemd_exec
    with open(TEMPLATE) as handle:
        return env.from_string(handle.read()).render(**values)


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
        '# "-": an endpoint that NetworkManager already added for the same address is kept.',
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
