"""mptcp_source_routing with via=networkmanager on the lab's hosts (Debian 12 with
NetworkManager 1.42, Debian 13 with 1.52), on a lab of its own: the rule and the two
routes go into the profile lab-eth1 (nmcli shows them), the kernel has them after the
reapply, `nmcli connection up` and a reboot (`podman restart`) keep them, and absent takes
them out of both. The oracles are nmcli and `ip -j` inside the host."""

import importlib.util
import json
import os
import subprocess
import time

import pytest

LAB_PREFIX = "h1-srcroute"
LAB_SUBNETS = ["198.18.60.0/24", "198.18.61.0/24"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("lab_tool", os.path.join(REPO, "lab", "lab.py"))
lab_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_tool)


def routes_of(lab, host):
    """The entry for the host's eth1 address, its gateway the one of lab-eth1's default route."""
    default = json.loads(lab.exec(host, "ip", "-j", "route", "show", "default", "dev", "eth1").stdout)
    return [{"address": lab.address(host, "eth1"), "gateway": default[0]["gateway"], "dev": "eth1"}]


def profile(lab, host):
    out = lab.exec(host, "nmcli", "-g", "ipv4.routing-rules,ipv4.routes", "connection", "show", "lab-eth1").stdout
    rules, routes = (line.split(", ") if line else [] for line in out.split("\n")[:2])
    return rules, routes


def kernel(lab, host):
    """The rules from eth1's address, and the routes of every table but main and local."""
    address = lab.address(host, "eth1")
    rules = [(r["priority"], r["table"]) for r in json.loads(lab.exec(host, "ip", "-j", "rule", "show").stdout)
             if r.get("src") == address]
    routes = sorted((r["table"], r["dst"], r.get("gateway"), r["dev"])
                    for r in json.loads(lab.exec(host, "ip", "-j", "route", "show", "table", "all").stdout)
                    if r.get("table") not in (None, "main", "local"))
    return rules, routes


def expected_kernel(lab, host):
    route = routes_of(lab, host)[0]
    subnet = lab.address(host, "eth1").rsplit(".", 1)[0] + ".0/24"
    return [(1000, "1000")], [("1000", subnet, None, "eth1"), ("1000", "default", route["gateway"], "eth1")]


def expected_profile(lab, host):
    route = routes_of(lab, host)[0]
    subnet = lab.address(host, "eth1").rsplit(".", 1)[0] + ".0/24"
    return (["priority 1000 from %s table 1000" % route["address"]],
            ["%s table=1000" % subnet, "0.0.0.0/0 %s table=1000" % route["gateway"]])


def wait_until(predicate, timeout=20.0):
    """NetworkManager sets the routes up a moment after the profile is active."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def run_on_each(lab, args_of, **kwargs):
    results = {}
    for host in sorted(lab.hosts):
        results.update(lab.module("mptcp_source_routing", args_of(host), hosts=[host], **kwargs))
    return results


@pytest.fixture(scope="module")
def routed_lab(own_lab):
    return own_lab


def test_the_profile_holds_the_rule_and_routes_and_the_kernel_has_them(routed_lab):
    lab = routed_lab
    check = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "via": "networkmanager"}, check=True)
    for host, result in check.items():
        assert result["changed"] is True and not result.get("failed"), result
        assert profile(lab, host) == ([], []) and kernel(lab, host) == ([], []), "check mode changed nothing"
    results = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "via": "networkmanager"})
    for host, result in results.items():
        assert result["changed"] is True and not result.get("failed"), result
        assert result["changes"] == check[host]["changes"]
        assert (result["routes"][0]["via"], result["routes"][0]["profile"]) == ("networkmanager", "lab-eth1")
        assert profile(lab, host) == expected_profile(lab, host)
        assert kernel(lab, host) == expected_kernel(lab, host)
    # auto takes NetworkManager here, and finds nothing to do.
    again = run_on_each(lab, lambda host: {"routes": routes_of(lab, host)})
    for host, result in again.items():
        assert result["changed"] is False, result
        assert result["routes"][0]["via"] == "networkmanager"


def test_connection_up_and_a_reboot_keep_them(routed_lab):
    lab = routed_lab
    for host in sorted(lab.hosts):
        lab.exec(host, "nmcli", "connection", "up", "lab-eth1")
        assert wait_until(lambda: kernel(lab, host) == expected_kernel(lab, host)), kernel(lab, host)
    for host in sorted(lab.hosts):
        subprocess.run(["podman", "restart", "-t", "5", host], check=True, capture_output=True,
                       env=dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf")))
    for host in sorted(lab.hosts):
        lab_tool.wait_for_boot(host)
        assert wait_until(lambda: kernel(lab, host) == expected_kernel(lab, host)), kernel(lab, host)
        assert profile(lab, host) == expected_profile(lab, host)


def test_absent_takes_them_out_of_the_profile_and_the_kernel(routed_lab):
    lab = routed_lab
    results = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "state": "absent"})
    for host, result in results.items():
        assert result["changed"] is True and not result.get("failed"), result
        assert profile(lab, host) == ([], [])
        assert kernel(lab, host) == ([], [])
    again = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "state": "absent"})
    assert all(result["changed"] is False for result in again.values()), again
