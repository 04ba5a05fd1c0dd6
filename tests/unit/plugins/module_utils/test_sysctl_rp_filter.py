"""The interfaces' rp_filter keys: their names, the files under a tmp_path root, and what
the kernel applies (the real kernel: tests/kernel/test_mptcp_sysctl.py, test_mptcp_info.py)."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl import rp_filter


@pytest.mark.parametrize("name, key", [
    ("net.ipv4.conf.eth1.rp_filter", "net.ipv4.conf.eth1.rp_filter"),
    (" net/ipv4/conf/eth1/rp_filter ", "net.ipv4.conf.eth1.rp_filter"),
    ("net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
    ("net.ipv4.conf.eth0/100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
    ("net.ipv4.conf.eth0.100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
    ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.all.rp_filter"),
    ("net.ipv4.ip_forward", None), ("enabled", None), ("net.ipv4.conf.eth1.forwarding", None),
])
def test_names_are_read_as_systemd_spells_them(name, key):
    assert rp_filter.parse_key(name) == key


def test_an_interface_round_trips_through_its_key():
    assert rp_filter.iface_of(rp_filter.key_of("eth0.100")) == "eth0.100"
    assert rp_filter.iface_of("net.mptcp.enabled") is None


@pytest.mark.parametrize("name", ["net.ipv4.conf.e1:0.rp_filter", "net.ipv4.conf.a b.rp_filter",
                                  "net.ipv4.conf.%s.rp_filter" % ("x" * 16), "net/ipv4/conf/../rp_filter"])
def test_what_cannot_be_an_interface_name_is_refused(name):
    with pytest.raises(ValidationError, match="is not an interface name"):
        rp_filter.parse_key(name)


@pytest.mark.parametrize("all_value, dev, effective, strict", [
    (0, 0, 0, False), (1, 0, 1, True), (0, 1, 1, True), (1, 2, 2, False), (2, 1, 2, False), (2, 0, 2, False)])
def test_the_kernel_applies_the_larger_of_all_and_the_interface(all_value, dev, effective, strict):
    report = rp_filter.report({"all": all_value, "default": 1, "eth1": dev})
    assert report == {"eth1": {"all": all_value, "dev": dev, "effective": effective, "strict": strict}}


def test_values_are_read_from_every_entry_of_net_ipv4_conf(tmp_path):
    for name, value in (("all", 1), ("default", 1), ("eth0.100", 2), ("lo", 0)):
        (tmp_path / "proc/sys/net/ipv4/conf" / name).mkdir(parents=True)
        (tmp_path / "proc/sys/net/ipv4/conf" / name / "rp_filter").write_text("%d\n" % value)
    assert rp_filter.read_values(str(tmp_path)) == {"all": 1, "default": 1, "eth0.100": 2, "lo": 0}
    assert rp_filter.proc_path(rp_filter.key_of("eth0.100"), str(tmp_path)) == str(
        tmp_path / "proc/sys/net/ipv4/conf/eth0.100/rp_filter")
    assert rp_filter.read_values(str(tmp_path / "none")) == {}
