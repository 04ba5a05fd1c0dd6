"""The real mptcpd (Debian 12's 0.12, its addr_adv plugin) in a network namespace, against
mptcp_info's `managers` and mptcp_host's refusal. mptcpd's packages are downloaded with
apt-get into .tmp/mptcpd-debs once and unpacked into a temporary directory; mptcpd runs
from there, inside the namespace, with its options on the command line (it reads no
configuration file on this machine). Oracles: `ip mptcp endpoint show`, `ip mptcp
limits`, /proc."""

import os
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("mptcpd", "mptcpd-plugins", "libmptcpd3", "libell0")
CACHE = os.path.join(REPO, ".tmp", "mptcpd-debs")
ADDRESS = "198.19.53.1"
LATER_ADDRESS = "198.19.53.2"


@pytest.fixture(scope="module")
def mptcpd_tree(tmp_path_factory):
    """Debian's mptcpd unpacked: {program, libraries, plugin_dir}."""
    os.makedirs(CACHE, exist_ok=True)
    debs = [name for name in os.listdir(CACHE) if name.endswith(".deb")]
    if len(debs) < len(PACKAGES):
        got = subprocess.run(["apt-get", "download"] + list(PACKAGES), cwd=CACHE, capture_output=True, text=True, check=False)
        if got.returncode != 0:
            pytest.skip("mptcpd's Debian packages could not be downloaded (apt-get download %s: %s)"
                        % (" ".join(PACKAGES), got.stderr.strip()[-300:]))
        debs = [name for name in os.listdir(CACHE) if name.endswith(".deb")]
    root = tmp_path_factory.mktemp("mptcpd")
    for name in debs:
        subprocess.run(["dpkg-deb", "-x", os.path.join(CACHE, name), str(root)], check=True)
    libraries = os.path.join(str(root), "usr", "lib", "x86_64-linux-gnu")
    return dict(program=os.path.join(str(root), "usr", "libexec", "mptcpd"), libraries=libraries,
                plugin_dir=os.path.join(libraries, "mptcpd"))


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def mptcpd(netns, mptcpd_tree):
    """mptcpd with addr_adv (announcing with flags subflow) running in `netns`, whose a0
    carries ADDRESS, the limits set to 5/4 before it starts. Yields its Popen."""
    netns.add_interface("a0", ADDRESS + "/24")
    netns.ip("mptcp", "limits", "set", "subflows", "5", "add_addr_accepted", "4")
    # `ip netns exec` and `env` exec: the Popen's pid is mptcpd's.
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns.name, "env", "LD_LIBRARY_PATH=" + mptcpd_tree["libraries"],
         mptcpd_tree["program"], "--log=stderr", "--plugin-dir=" + mptcpd_tree["plugin_dir"],
         "--load-plugins=addr_adv", "--path-manager=addr_adv", "--addr-flags=subflow",
         "--notify-flags=existing,skip_link_local,skip_loopback"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: [e["address"] for e in netns.endpoints()] == [ADDRESS]), \
            "mptcpd added no endpoint for %s: %s" % (ADDRESS, proc.poll())
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_mptcpd_s_addr_adv_writes_endpoints_and_limits_as_its_source_says(netns, mptcpd):
    """The facts the role's refusal rests on, seen: addr_adv added the address's endpoint
    (flags subflow, dev a0) and rewrote the limits set before it started."""
    assert [(e["address"], e.get("dev"), [k for k, v in e.items() if v is True]) for e in netns.endpoints()] == \
        [(ADDRESS, "a0", ["subflow"])]
    assert netns.limits() == {"add_addr_accepted": 3, "subflows": 3}


def test_mptcp_info_sees_mptcpd_in_its_namespace_only(netns, make_netns, mptcpd, module_runner):
    found = module_runner("mptcp_info", dict(gather_subset=["managers"], facts=False), inside_netns=netns.name)
    mptcpd_facts = found["mptcp"]["managers"]["mptcpd"]
    assert (mptcpd_facts["running"], mptcpd_facts["pids"]) == (True, [mptcpd.pid])
    assert mptcpd.pid in netns.pids()
    assert (mptcpd_facts["plugins"], mptcpd_facts["writes"]) == (["addr_adv"], ["endpoints", "limits"])
    assert mptcpd_facts["path_manager"] == "addr_adv" and mptcpd_facts["addr_flags"] == ["subflow"]

    elsewhere = module_runner("mptcp_info", dict(gather_subset=["managers"], facts=False),
                              inside_netns=make_netns().name)["mptcp"]["managers"]["mptcpd"]
    assert (elsewhere["running"], elsewhere["pids"]) == (False, [])


def host_args(tmp_path, **more):
    return dict(dict(sysctl={"enabled": 1}, sysctl_path=str(tmp_path / "90-mptcp.conf"), unit_dir=str(tmp_path / "units"),
                     persist=False, limits={"subflows": 2, "add_addr_accepted": 1},
                     endpoints=[{"address": ADDRESS, "dev": "a0", "id": 9, "flags": ["signal"]}]), **more)


def test_mptcp_host_refuses_while_mptcpd_writes_what_it_is_asked_to_set(netns, mptcpd, tmp_path, module_runner):
    before = (netns.endpoints(), netns.limits())
    for check_mode in (True, False):
        refused = module_runner("mptcp_host", host_args(tmp_path), check_mode=check_mode, inside_netns=netns.name)
        assert refused.get("failed") is True
        assert "mptcpd (running, plugins addr_adv" in refused["msg"]
        assert "the role is asked to set its endpoints and limits (mptcp_endpoints, mptcp_limits)" in refused["msg"]
        assert (netns.endpoints(), netns.limits()) == before
        assert not os.path.exists(str(tmp_path / "90-mptcp.conf"))
    # Only sysctl asked for: nothing mptcpd writes, no refusal.
    alone = module_runner("mptcp_host", host_args(tmp_path, limits={}, endpoints=[]), inside_netns=netns.name)
    assert alone.get("failed") is not True, alone.get("msg")


def test_warn_sets_them_and_mptcpd_changes_them_again(netns, mptcpd, tmp_path, module_runner):
    done = module_runner("mptcp_host", host_args(tmp_path, other_managers="warn"), inside_netns=netns.name)
    assert done.get("failed") is not True, done.get("msg")
    assert any("mptcp_other_managers is warn" in warning for warning in done.get("warnings", []))
    assert netns.limits() == {"add_addr_accepted": 1, "subflows": 2}
    assert [(e["address"], e["id"], e.get("signal")) for e in netns.endpoints()] == [(ADDRESS, 9, True)]
    # What the refusal is for: an address comes, and mptcpd writes over the role's limits.
    netns.ip("address", "add", LATER_ADDRESS + "/24", "dev", "a0")
    assert wait_until(lambda: netns.limits() != {"add_addr_accepted": 1, "subflows": 2})
    assert LATER_ADDRESS in [e["address"] for e in netns.endpoints()]
