"""What a converged lab host has (testinfra, over `podman exec`)."""


def test_kernel_has_mptcp(host):
    assert host.file("/proc/sys/net/mptcp/enabled").exists


def test_network_manager_runs_the_lab_profiles(host):
    assert host.service("NetworkManager").is_running
    active = host.check_output("nmcli -g NAME connection show --active").split()
    assert {"lab-eth0", "lab-eth1"} <= set(active)


def test_host_is_multi_homed(host):
    addresses = host.check_output("ip -o -4 address show").split("\n")
    assert any(" eth0 " in line for line in addresses)
    assert any(" eth1 " in line for line in addresses)


def test_ip_knows_mptcp(host):
    assert host.run("ip mptcp limits show").rc == 0
