"""mptcp_source_routing with via=networkmanager on the lab's hosts (Debian 12 with
NetworkManager 1.42, Debian 13 with 1.52), on a lab of its own, for an IPv4 and an IPv6
address of eth1 (the lab's profiles have no IPv6: the fixture gives lab-eth1 an address):
the rules and routes go into the profile lab-eth1 (nmcli shows them), the kernel has them
after the reapply, `nmcli connection up` and a reboot (`podman restart`) keep them, and
absent takes them out of both. The oracles are nmcli and `ip -j` inside the host."""

import importlib.util
import json
import os
import subprocess
import time

import pytest

LAB_PREFIX = "h1-srcroute"
LAB_SUBNETS = ["198.18.60.0/24", "198.18.61.0/24", "198.18.59.0/24"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("lab_tool", os.path.join(REPO, "lab", "lab.py"))
lab_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_tool)


IPV6_PREFIX = "2001:db8:61::"


def ipv6_of(lab, host):
    return IPV6_PREFIX + lab.address(host, "eth1").rsplit(".", 1)[1]


def routes_of(lab, host):
    """The entries for eth1's addresses: IPv4 with the gateway of lab-eth1's default route,
    IPv6 with a gateway on its /64 (no router answers there; the kernel takes the route)."""
    default = json.loads(lab.exec(host, "ip", "-j", "route", "show", "default", "dev", "eth1").stdout)
    return [{"address": lab.address(host, "eth1"), "gateway": default[0]["gateway"], "dev": "eth1"},
            {"address": ipv6_of(lab, host), "gateway": IPV6_PREFIX + "1", "dev": "eth1"}]


def profile(lab, host):
    """lab-eth1's ipv4.routing-rules, ipv4.routes, ipv6.routing-rules, ipv6.routes (nmcli -g escapes ':')."""
    out = lab.exec(host, "nmcli", "-g", "ipv4.routing-rules,ipv4.routes,ipv6.routing-rules,ipv6.routes",
                   "connection", "show", "lab-eth1").stdout
    return [line.replace("\\:", ":").split(", ") if line else [] for line in out.split("\n")[:4]]


def kernel(lab, host):
    """The rules from eth1's addresses, and the routes of every table but main and local, both families."""
    addresses = (lab.address(host, "eth1"), ipv6_of(lab, host))
    rules, routes = [], []
    for family in ("-4", "-6"):
        rules += [(r["priority"], r["src"], r["table"]) for r in json.loads(lab.exec(host, "ip", "-j", family, "rule", "show").stdout)
                  if r.get("src") in addresses]
        routes += sorted((r["table"], r["dst"], r.get("gateway"), r["dev"])
                         for r in json.loads(lab.exec(host, "ip", "-j", family, "route", "show", "table", "all").stdout)
                         if r.get("table") not in (None, "main", "local"))
    return rules, routes


def expected_kernel(lab, host):
    four, six = routes_of(lab, host)
    subnet = four["address"].rsplit(".", 1)[0] + ".0/24"
    return ([(1000, four["address"], "1000"), (1001, six["address"], "1001")],
            [("1000", subnet, None, "eth1"), ("1000", "default", four["gateway"], "eth1"),
             ("1001", IPV6_PREFIX + "/64", None, "eth1"), ("1001", "default", six["gateway"], "eth1")])


def expected_profile(lab, host):
    four, six = routes_of(lab, host)
    subnet = four["address"].rsplit(".", 1)[0] + ".0/24"
    return [["priority 1000 from %s table 1000" % four["address"]],
            ["%s table=1000" % subnet, "0.0.0.0/0 %s table=1000" % four["gateway"]],
            ["priority 1001 from %s table 1001" % six["address"]],
            ["%s/64 table=1001" % IPV6_PREFIX, "::/0 %s table=1001" % six["gateway"]]]


NOTHING = [[], [], [], []]


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
    """The lab with an IPv6 address on lab-eth1."""
    for host in sorted(own_lab.hosts):
        own_lab.exec(host, "nmcli", "connection", "modify", "lab-eth1", "ipv6.method", "manual",
                     "ipv6.addresses", ipv6_of(own_lab, host) + "/64")
        own_lab.exec(host, "nmcli", "connection", "up", "lab-eth1")
    for host in sorted(own_lab.hosts):
        assert wait_until(lambda: ipv6_of(own_lab, host) in own_lab.exec(
            host, "ip", "-6", "address", "show", "dev", "eth1").stdout), host
    return own_lab


def test_the_profile_holds_the_rule_and_routes_and_the_kernel_has_them(routed_lab):
    lab = routed_lab
    check = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "via": "networkmanager"}, check=True)
    for host, result in check.items():
        assert result["changed"] is True and not result.get("failed"), result
        assert profile(lab, host) == NOTHING and kernel(lab, host) == ([], []), "check mode changed nothing"
    results = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "via": "networkmanager"})
    for host, result in results.items():
        assert result["changed"] is True and not result.get("failed"), result
        assert result["changes"] == check[host]["changes"]
        assert [(r["via"], r["profile"], r["family"]) for r in result["routes"]] == [
            ("networkmanager", "lab-eth1", "ipv4"), ("networkmanager", "lab-eth1", "ipv6")]
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
        assert profile(lab, host) == NOTHING
        assert kernel(lab, host) == ([], [])
    again = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "state": "absent"})
    assert all(result["changed"] is False for result in again.values()), again


# nmcli whose first `device reapply` fails as NetworkManager's own refusal does (the real
# nmcli does everything else, and the reapply of the rollback).
FAILING_REAPPLY = """#!/bin/sh
if [ "$1 $2" = "device reapply" ] && [ ! -e /run/h1-reapply-failed ]; then
    touch /run/h1-reapply-failed
    echo "Error: Reapplying connection to device '$3' (eth1) failed: Can't reapply changes (a test stand-in)" >&2
    exit 1
fi
exec /usr/bin/nmcli "$@"
"""


def test_a_failed_reapply_sets_the_profile_back(routed_lab):
    """The profile is saved, then NetworkManager refuses the reapply: the module writes the
    profile back as it was (and reapplies that), so nothing of the run is left."""
    lab = routed_lab
    before = dict((host, (profile(lab, host), kernel(lab, host))) for host in sorted(lab.hosts))
    for host in sorted(lab.hosts):
        lab.exec(host, "python3", "-c", "import os, sys; open(sys.argv[1], 'w').write(sys.argv[2]); os.chmod(sys.argv[1], 0o755)",
                 "/usr/local/bin/nmcli", FAILING_REAPPLY)
    try:
        results = run_on_each(lab, lambda host: {"routes": routes_of(lab, host), "via": "networkmanager"})
    finally:
        for host in sorted(lab.hosts):
            lab.exec(host, "rm", "-f", "/usr/local/bin/nmcli", "/run/h1-reapply-failed")
    for host, result in results.items():
        assert result.get("failed") is True, result
        assert "reapplying the profile of eth1 failed" in result["msg"] and "a test stand-in" in result["msg"]
        assert "Profile lab-eth1 was set back as it was and reapplied." in result["msg"]
        assert (profile(lab, host), kernel(lab, host)) == before[host]
