"""The lab itself (lab/lab.py): the subnet refusal, hosts as documented, a clean teardown,
and the role's preflight on a host that has MPTCP and on one that shows none."""

import importlib.util
import ipaddress
import json
import os
import subprocess
import sys

import pytest

from ansible_output import assert_no_deprecation_of_ours

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_PY = os.path.join(REPO, "lab", "lab.py")
ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf"),
           ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), LC_ALL="C.UTF-8")
NAME = "pytest-lab"
SUBNETS = ["198.18.41.0/24", "198.18.42.0/24", "198.18.44.0/24"]

spec = importlib.util.spec_from_file_location("lab", LAB_PY)
lab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lab)


def run(argv, check=True):
    result = subprocess.run(argv, capture_output=True, text=True, env=ENV, check=False)
    if check and result.returncode != 0:
        raise AssertionError("%s: rc=%d\n%s\n%s" % (argv, result.returncode, result.stdout,
                                                    result.stderr))
    return result


def lab_cli(*args, check=True):
    return run([sys.executable, LAB_PY, "--name", NAME] + list(args), check=check)


def labelled(kind, name=NAME):
    return run(["podman", kind, "ls"] + (["-a"] if kind == "container" else [])
               + ["--filter", "label=mptcp-lab=%s" % name, "--format", "{{.Name}}"]
               ).stdout.split()


def other_labs_devices():
    """The bridges of podman networks that are not this test's, and their ports (the
    containers' veths): other labs (molecule, other test files, a demo) come and go while
    this one runs, and their routes are not ours."""
    def bridges(*filters):
        return set(run(["podman", "network", "ls", "--format", "{{.NetworkInterface}}"] + list(filters)).stdout.split())
    others = bridges() - bridges("--filter", "label=mptcp-lab=%s" % NAME)
    ports = [link["ifname"] for link in json.loads(run(["ip", "-j", "link", "show"]).stdout) if link.get("master") in others]
    return others.union(ports)


def routes():
    """This machine's routes, all tables, but those on other labs' devices."""
    others = other_labs_devices()
    return sorted(json.dumps(r, sort_keys=True) for r in json.loads(
        run(["ip", "-j", "route", "show", "table", "all"]).stdout) if r.get("dev") not in others)


ROUTE = [(ipaddress.ip_network("192.0.2.0/24"), "route 192.0.2.0/24 dev eth0")]
REGISTRY = {ipaddress.ip_address("203.0.113.80"): {"mirror.example", "pypi.example"}}


@pytest.mark.parametrize("subnets, problem", [
    (["192.0.2.0/25", "198.18.2.0/24"], "192.0.2.0/25 overlaps this machine's route 192.0.2.0/24"),
    (["192.0.0.0/16", "198.18.2.0/24"], "192.0.0.0/16 overlaps this machine's route"),
    (["203.0.113.0/24", "198.18.2.0/24"], "contains 203.0.113.80, where the package registries "
                                          "mirror.example, pypi.example resolve"),
    (["198.18.1.0/24", "198.18.0.0/16"], "198.18.1.0/24 overlaps the lab's other subnet"),
    (["198.18.1.1/24", "198.18.2.0/24"], "198.18.1.1/24 is not a subnet"),
    (["banana", "198.18.2.0/24"], "banana is not a subnet"),
])
def test_conflicting_subnets_are_named(subnets, problem):
    problems = lab.subnet_conflicts(subnets, ROUTE, REGISTRY)
    assert any(problem in p for p in problems), problems


def test_benchmark_range_is_fine():
    assert lab.subnet_conflicts(["198.18.1.0/24", "198.18.2.0/24"], ROUTE, REGISTRY) == []


def test_this_machines_registries_are_found():
    """The refusal only protects what it knows: the apt mirrors and PyPI must be resolved."""
    hosts = set().union(*lab.registry_addresses().values())
    assert set(lab.pip_index_hosts()) & hosts
    assert set(h.split(":")[0] for h in lab.apt_source_hosts()) & hosts


def test_up_refuses_a_subnet_on_a_route_and_creates_nothing():
    before = routes()
    own = ipaddress.ip_network(json.loads(run(["ip", "-j", "-4", "route", "show", "default"])
                                          .stdout)[0]["gateway"] + "/32")
    result = lab_cli("up", "--subnet", str(own.supernet(new_prefix=24)),
                     "--subnet", "198.18.43.0/24", check=False)
    assert result.returncode == 1
    assert "refusing to create the lab's networks" in result.stderr
    assert "overlaps this machine's route" in result.stderr
    assert labelled("container") == [] and labelled("network") == []
    assert routes() == before


@pytest.fixture(scope="module")
def running_lab():
    before = routes()
    try:
        lab_cli("up", "--host", "lab-a=debian12:mptcp_servers", "--host", "lab-b=debian13",
                "--without-mptcp", "lab-b", "--subnet", SUBNETS[0], "--subnet", SUBNETS[1],
                "--mgmt-subnet", SUBNETS[2])
        with open(os.path.join(REPO, ".lab", NAME, "inventory.yml")) as handle:
            yield json.loads(handle.read().split("\n", 1)[1])
    finally:
        lab_cli("down")
    assert labelled("container") == [] and labelled("network") == []
    assert not os.path.exists(os.path.join(REPO, ".lab", NAME))
    assert routes() == before


def podman_exec(host, *argv, check=True):
    return run(["podman", "exec", host] + list(argv), check=check)


def test_inventory_describes_the_hosts(running_lab):
    hosts = running_lab["all"]["hosts"]
    assert hosts["lab-a"]["lab_distro"] == "debian12"
    assert hosts["lab-a"]["lab_addresses"] == {"eth0": "198.18.41.10", "eth1": "198.18.42.10"}
    assert hosts["lab-b"]["lab_addresses"] == {"eth0": "198.18.41.11", "eth1": "198.18.42.11"}
    assert list(running_lab["all"]["children"]["mptcp_servers"]["hosts"]) == ["lab-a"]
    assert hosts["lab-a"]["ansible_host"] == "198.18.44.10" and hosts["lab-b"]["ansible_host"] == "198.18.44.11"
    assert running_lab["all"]["vars"]["ansible_user"] == "lab" and running_lab["all"]["vars"]["ansible_become"] is True


@pytest.mark.parametrize("host, nm_version", [("lab-a", "1.42."), ("lab-b", "1.52.")])
def test_hosts_boot_systemd_with_network_manager(running_lab, host, nm_version):
    assert podman_exec(host, "cat", "/proc/1/comm").stdout.strip() == "systemd"
    assert podman_exec(host, "NetworkManager", "--version").stdout.startswith(nm_version)
    active = podman_exec(host, "nmcli", "-g", "NAME,DEVICE", "connection", "show",
                         "--active").stdout.split()
    assert {"lab-eth0:eth0", "lab-eth1:eth1", "lab-mgmt0:mgmt0"} <= set(active)


def test_hosts_reach_each_other_on_both_networks(running_lab):
    for address in running_lab["all"]["hosts"]["lab-b"]["lab_addresses"].values():
        podman_exec("lab-a", "ping", "-c", "1", "-W", "2", address)


def test_a_restart_keeps_interface_names_and_addresses(running_lab):
    run(["podman", "restart", "-t", "0", "lab-a"])
    lab.wait_for_boot("lab-a")
    addresses = {a["ifname"]: a["addr_info"][0]["local"] for a in json.loads(
        podman_exec("lab-a", "ip", "-j", "-4", "address", "show").stdout) if a["ifname"] != "lo"}
    assert addresses == dict(running_lab["all"]["hosts"]["lab-a"]["lab_addresses"], mgmt0="198.18.44.10")
    assert ssh_as_lab_user(running_lab, "lab-a", "sudo", "-n", "id", "-u").stdout == "0\n"


def ssh_as_lab_user(inventory, host, *argv):
    """ssh as the inventory says (its user, key and options), to the management address."""
    variables = inventory["all"]["vars"]
    return run(["ssh", "-i", variables["ansible_ssh_private_key_file"], "-o", "BatchMode=yes"]
               + variables["ansible_ssh_common_args"].split()
               + ["%s@%s" % (variables["ansible_user"], inventory["all"]["hosts"][host]["ansible_host"])] + list(argv))


@pytest.mark.parametrize("host", ["lab-a", "lab-b"])
def test_ssh_reaches_the_lab_user_who_becomes_root(running_lab, host):
    assert ssh_as_lab_user(running_lab, host, "id", "-un").stdout == "lab\n"
    assert ssh_as_lab_user(running_lab, host, "sudo", "-n", "id", "-u").stdout == "0\n"


@pytest.mark.parametrize("host", ["lab-a", "lab-b"])
def test_the_management_network_is_no_path(running_lab, host):
    """mgmt0 carries SSH only: no default route, and NetworkManager makes no MPTCP endpoint
    on it (mptcp-flags 0x1, disabled)."""
    address = running_lab["all"]["hosts"][host]["ansible_host"]
    assert podman_exec(host, "nmcli", "-g", "connection.mptcp-flags,ipv4.never-default", "connection",
                       "show", "lab-mgmt0").stdout.split() == ["0x1", "yes"]
    assert [r.get("dev") for r in json.loads(podman_exec(host, "ip", "-j", "-4", "route", "show", "default").stdout)] \
        == ["eth0", "eth1"]
    assert address not in [e["address"] for e in json.loads(
        podman_exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout)]


DELEGATING_PLAY = """- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.command: cat /etc/hostname
      delegate_to: lab-a
      register: delegated
      changed_when: false
    - ansible.builtin.debug:
        msg: "ran on {{ delegated.stdout }}"
"""


def test_a_task_delegated_from_a_local_play_runs_on_the_lab_host(running_lab, tmp_path):
    """The inventory says its connection: a play with `connection: local` (as the molecule
    scenarios' playbooks are) that delegates a task to a lab host must run it there, not
    on this machine (molecule/routed/negative.yml took the client's source routing away
    on this machine, so its negative check passed)."""
    playbook = tmp_path / "delegate.yml"
    playbook.write_text(DELEGATING_PLAY)
    inventory = os.path.join(REPO, ".lab", NAME, "inventory.yml")
    result = run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inventory, str(playbook)], check=False)
    assert result.returncode == 0, result.stdout
    assert "ran on lab-a" in result.stdout, result.stdout


def test_net_mptcp_is_writable_in_the_hosts(running_lab):
    """/proc/sys is unmasked (lab.md): the sysctl module and systemd-sysctl need it."""
    podman_exec("lab-a", "sysctl", "-w", "net.mptcp.add_addr_timeout=61")
    assert podman_exec("lab-a", "cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout == "61\n"


def role_run(limit, *args):
    playbook = os.path.join(REPO, "playbooks", "site.yml")
    inventory = os.path.join(REPO, ".lab", NAME, "inventory.yml")
    argv = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inventory, "--limit", limit] \
        + list(args) + [playbook]
    result = run(argv, check=False)
    assert_no_deprecation_of_ours(argv, result.stderr)
    return result


def test_site_playbook_sets_mptcp_up_and_shows_it(running_lab, tmp_path):
    summary = tmp_path / "summary.txt"
    result = role_run("lab-a", "-e", "site_summary_file=%s" % summary)
    assert result.returncode == 0, result.stdout
    header, row = summary.read_text().strip().split("\n")
    assert header.split()[:2] == ["host", "MPTCP"]
    assert row.split()[:2] == ["lab-a", "on"]


def test_preflight_fails_clearly_without_mptcp(running_lab):
    result = role_run("lab-b")
    assert result.returncode == 2, result.stdout
    assert "MPTCP is not available in the running kernel of lab-b" in result.stdout
    assert "CONFIG_MPTCP=y" in result.stdout


# --- the routed topologies --------------------------------------------------------------

ROUTED_NAME = "pytest-routed"
ROUTED_SUBNETS = ["198.18.79.0/24", "198.18.80.0/24", "198.18.81.0/24"]
ROUTED_MGMT_SUBNET = "198.18.82.0/24"


@pytest.mark.parametrize("topology", sorted(lab.ROUTED_TOPOLOGIES))
def test_routed_gateways_are_routers_on_that_network_never_the_bridge(topology):
    hosts, nets = lab.routed_hosts("t", topology, lab.DEFAULT_ROUTED_SUBNETS[topology])
    routers = dict((h["name"], h) for h in hosts if h["role"] == "router")
    bridges = set(str(net.network_address + 1) for _name, net in nets.values())
    for host in hosts:
        for link in host["interfaces"]:
            for gateway in [host["gateways"][link["iface"]], link["gateway"]] + [via for _n, via in link["routes"]]:
                if gateway is None:
                    continue
                assert gateway not in bridges
                # A router's address on the very network this interface is on.
                assert any(r_link["address"] == gateway and r_link["network"] == link["network"]
                           for router in routers.values() for r_link in router["interfaces"]), (host["name"], gateway)
        defaults = [link for link in host["interfaces"] if link["gateway"]]
        assert len(defaults) == (0 if host["role"] == "router" else 1), host["name"]


def test_routed_single_homed_as_the_issue_draws_it():
    hosts, _nets = lab.routed_hosts("t", "routed-single-homed", ["198.18.3.0/24", "198.18.4.0/24", "198.18.5.0/24"])
    by_name = dict((h["name"], h) for h in hosts)
    client, server = by_name["t-sh-client"], by_name["t-sh-server"]
    assert client["addresses"] == {"eth0": "198.18.3.20", "eth1": "198.18.4.20"}
    assert client["gateways"] == {"eth0": "198.18.3.2", "eth1": "198.18.4.3"}
    assert [link["gateway"] for link in client["interfaces"]] == ["198.18.3.2", None]
    assert server["addresses"] == {"eth0": "198.18.5.10"} and server["gateways"] == {"eth0": "198.18.5.2"}
    assert by_name["t-sh-r1"]["interfaces"][1]["routes"] == [("198.18.4.0/24", "198.18.5.3")]
    assert by_name["t-sh-r2"]["interfaces"][1]["routes"] == [("198.18.3.0/24", "198.18.5.2")]
    assert client["groups"] == ["routed1_clients", "mptcp_clients"]
    assert by_name["t-sh-r1"]["groups"] == ["routed1_routers", "mptcp_routers"]
    assert "net.ipv4.ip_forward = 1" in by_name["t-sh-r1"]["files"]["/etc/sysctl.d/90-lab-router.conf"]
    assert "net.ipv4.ip_forward = 0" in client["files"]["/etc/sysctl.d/90-lab-host.conf"]


def test_keyfile_without_gateway_and_with_routes():
    text = lab.keyfile("t", "eth1", "198.18.5.2", 24, None, 200, [("198.18.4.0/24", "198.18.5.3")])
    assert "address1=198.18.5.2/24\n" in text and "route1=198.18.4.0/24,198.18.5.3\n" in text
    assert "address1=198.18.1.10/24,198.18.1.1\n" in lab.keyfile("t", "eth0", "198.18.1.10", 24, "198.18.1.1", 100)


def test_routed_subnets_must_match_the_networks():
    with pytest.raises(lab.LabError, match="have 6 networks: give as many --subnet, got 2"):
        lab.routed_subnets(["routed-single-homed", "routed-multi-homed"], ["198.18.3.0/24", "198.18.4.0/24"])
    assert lab.routed_subnets(["routed-multi-homed"], []) == lab.DEFAULT_ROUTED_SUBNETS["routed-multi-homed"]


def test_routed_topologies_refuse_hosts_of_the_direct_lab():
    result = run([sys.executable, LAB_PY, "--name", ROUTED_NAME, "up", "--topology", "routed-single-homed",
                  "--host", "x=debian12"], check=False)
    assert result.returncode == 1 and "have hosts of their own" in result.stderr
    assert labelled("container", ROUTED_NAME) == []


def routes_into(subnets):
    """This machine's routes into the subnets (other labs may come and go meanwhile)."""
    nets = [ipaddress.ip_network(subnet) for subnet in subnets]
    return [r for r in json.loads(run(["ip", "-j", "route", "show", "table", "all"]).stdout)
            if r.get("dst", "default") != "default" and "." in r["dst"]
            and any(ipaddress.ip_network(r["dst"], strict=False).overlaps(net) for net in nets)]


@pytest.fixture(scope="module")
def routed_lab():
    assert routes_into(ROUTED_SUBNETS) == []
    try:
        run([sys.executable, LAB_PY, "--name", ROUTED_NAME, "up", "--topology", "routed-single-homed"]
            + ["--subnet=%s" % subnet for subnet in ROUTED_SUBNETS] + ["--mgmt-subnet", ROUTED_MGMT_SUBNET])
        with open(os.path.join(REPO, ".lab", ROUTED_NAME, "inventory.yml")) as handle:
            yield json.loads(handle.read().split("\n", 1)[1])
    finally:
        run([sys.executable, LAB_PY, "--name", ROUTED_NAME, "down"])
    assert labelled("container", ROUTED_NAME) == [] and labelled("network", ROUTED_NAME) == []
    assert routes_into(ROUTED_SUBNETS) == []


def host_routes_of(host):
    """The host's IPv4 routes but the management network's (mgmt0: SSH only, no path)."""
    return [(r["dst"], r.get("gateway"), r["dev"]) for r in json.loads(podman_exec(host, "ip", "-j", "-4", "route").stdout)
            if r["dev"] != "mgmt0"]


def test_routed_client_and_server_have_one_default_route_each(routed_lab):
    hostvars = routed_lab["all"]["hosts"]
    assert hostvars["pytest-routed-sh-client"]["lab_gateways"] == {"eth0": "198.18.79.2", "eth1": "198.18.80.3"}
    assert sorted(host_routes_of("pytest-routed-sh-client")) == [
        ("198.18.79.0/24", None, "eth0"), ("198.18.80.0/24", None, "eth1"), ("default", "198.18.79.2", "eth0")]
    assert sorted(host_routes_of("pytest-routed-sh-server")) == [
        ("198.18.81.0/24", None, "eth0"), ("default", "198.18.81.2", "eth0")]
    assert ("198.18.80.0/24", "198.18.81.3", "eth1") in host_routes_of("pytest-routed-sh-r1")
    assert list(routed_lab["all"]["children"]["mptcp_routers"]["hosts"]) == ["pytest-routed-sh-r1", "pytest-routed-sh-r2"]


def test_routers_forward_and_hosts_do_not(routed_lab):
    for host, forwarding in (("pytest-routed-sh-r1", "1"), ("pytest-routed-sh-r2", "1"),
                             ("pytest-routed-sh-client", "0"), ("pytest-routed-sh-server", "0")):
        assert podman_exec(host, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == forwarding, host


def tx_bytes(host, link):
    return int(podman_exec(host, "cat", "/sys/class/net/%s/statistics/tx_bytes" % link).stdout)


def test_the_server_is_reached_through_r1_and_eth1_needs_source_routing(routed_lab):
    client, server, eth1 = "pytest-routed-sh-client", "198.18.81.10", "198.18.80.20"
    before = tx_bytes("pytest-routed-sh-r1", "eth1"), tx_bytes("pytest-routed-sh-r2", "eth1")
    podman_exec(client, "ping", "-c", "3", "-s", "1000", "-W", "2", "-I", eth1, server)
    # From eth1's address too, the one default route takes the packets out of eth0, to r1.
    assert tx_bytes("pytest-routed-sh-r1", "eth1") - before[0] >= 3 * 1000
    assert tx_bytes("pytest-routed-sh-r2", "eth1") - before[1] < 1000
    # Through eth1 itself the kernel has no route (a subflow bound to eth1 asks eth1's
    # link for the server and nobody answers).
    assert podman_exec(client, "ip", "route", "get", "fibmatch", server, "from", eth1, "oif", "eth1",
                       check=False).returncode != 0
    podman_exec(client, "ip", "rule", "add", "from", eth1, "table", "102")
    podman_exec(client, "ip", "route", "add", "default", "via", "198.18.80.3", "dev", "eth1", "table", "102")
    try:
        before = tx_bytes("pytest-routed-sh-r2", "eth1")
        podman_exec(client, "ping", "-c", "3", "-s", "1000", "-W", "2", "-I", eth1, server)
        assert tx_bytes("pytest-routed-sh-r2", "eth1") - before >= 3 * 1000
    finally:
        podman_exec(client, "ip", "rule", "del", "from", eth1, "table", "102")


def test_a_router_restart_keeps_forwarding_and_its_static_route(routed_lab):
    run(["podman", "restart", "-t", "0", "pytest-routed-sh-r1"])
    lab.wait_for_boot("pytest-routed-sh-r1")
    assert podman_exec("pytest-routed-sh-r1", "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    assert ("198.18.80.0/24", "198.18.81.3", "eth1") in host_routes_of("pytest-routed-sh-r1")


def test_a_degraded_boot_with_user_at_failing_names_the_inotify_limit(tmp_path):
    limit = tmp_path / "max_user_instances"
    limit.write_text("128\n")
    hint = lab.degraded_hint("user@1000.service loaded failed failed User Manager for UID 1000", str(limit))
    assert "fs.inotify.max_user_instances is 128" in hint, hint
    assert lab.degraded_hint("mptcpd.service loaded failed failed", str(limit)) == ""
