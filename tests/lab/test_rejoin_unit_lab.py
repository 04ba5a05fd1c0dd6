"""mptcp-rejoin.service on real systemd (Debian 12: systemd 252, Debian 13: systemd 257), on a
lab of its own: the role with mptcp_rejoin: true installs, enables and starts it; the
service runs with only CAP_NET_ADMIN, no new privileges and netlink and unix sockets only,
and in that sandbox still does its work (eth1's address removed and given back: its
endpoint, marked backup by hand meanwhile, is deleted and added again as listed, unmarked); a second run changes nothing;
mptcp_state: absent stops it and removes its unit, program and endpoint list.

The oracles are the hosts' own: systemctl, /proc/PID/status of the service's main process,
`ip -j mptcp endpoint show`, `test -e` on the files, read with `podman exec`."""

import json
import re
import time

import pytest

from test_mptcp_host import ROLE, run

LAB_PREFIX = "hr-rejoin"
LAB_SUBNETS = ["198.19.23.0/24", "198.19.24.0/24", "198.19.25.0/24"]
UNIT = "mptcp-rejoin.service"
FILES = ("/etc/systemd/system/mptcp-rejoin.service", "/usr/local/lib/mptcp-rejoin.py", "/etc/mptcp-rejoin.json")
CAP_NET_ADMIN = 1 << 12
BOUND = 10.0  # seconds the test waits for the endpoint to be added again


@pytest.fixture(scope="module")
def converged(own_lab):
    proc = run(own_lab, ROLE, "-e", "mptcp_rejoin=true")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return own_lab


def systemctl(lab, host, *args):
    return lab.exec(host, "systemctl", *args, check=False).stdout.strip()


def status_of_service(lab, host):
    pid = systemctl(lab, host, "show", "-p", "MainPID", "--value", UNIT)
    assert pid not in ("", "0"), "%s: %s has no main process" % (host, UNIT)
    text = lab.exec(host, "cat", "/proc/%s/status" % pid).stdout
    return dict(re.findall(r"^(\w+):\s*(\S+)", text, re.MULTILINE))


def endpoint_of(lab, host, address):
    found = [e for e in json.loads(lab.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout or "[]")
             if e.get("address") == address]
    return found[0] if found else None


def test_the_role_installs_enables_and_starts_it_with_only_cap_net_admin_and_netlink(converged):
    lab = converged
    for host in lab.hosts:
        assert systemctl(lab, host, "is-enabled", UNIT) == "enabled", host
        assert systemctl(lab, host, "is-active", UNIT) == "active", host
        status = status_of_service(lab, host)
        assert int(status["CapEff"], 16) == CAP_NET_ADMIN, (host, status["CapEff"])
        assert int(status["CapBnd"], 16) == CAP_NET_ADMIN, (host, status["CapBnd"])
        assert status["NoNewPrivs"] == "1", host
        # systemd's own reading of what it applies.
        shown = systemctl(lab, host, "show", "-p", "RestrictAddressFamilies,ProtectSystem,PrivateTmp", UNIT)
        assert sorted(shown.splitlines()) == ["PrivateTmp=yes", "ProtectSystem=strict",
                                              "RestrictAddressFamilies=AF_NETLINK AF_UNIX"], (host, shown)


def test_in_its_sandbox_it_adds_the_endpoint_again_when_the_address_comes_back(converged):
    lab = converged
    for host in lab.hosts:
        address = lab.address(host, "eth1")
        before = endpoint_of(lab, host, address)
        assert before is not None and not before.get("backup"), "%s: endpoint of %s: %s" % (host, address, before)
        # While the address is away the endpoint is marked backup by hand: added again as
        # the daemon lists it, it loses that mark (the kernel may give it its old id back).
        lab.exec(host, "ip", "address", "del", address + "/24", "dev", "eth1")
        lab.exec(host, "ip", "mptcp", "endpoint", "change", "id", str(before["id"]), "backup")
        assert endpoint_of(lab, host, address).get("backup"), host
        lab.exec(host, "ip", "address", "add", address + "/24", "dev", "eth1")
        deadline = time.monotonic() + BOUND
        now = endpoint_of(lab, host, address)
        while (now is None or now.get("backup")) and time.monotonic() < deadline:
            time.sleep(0.2)
            now = endpoint_of(lab, host, address)
        assert now is not None and not now.get("backup"), (
            "%s: the endpoint of %s was not added again within %ss: %s" % (host, address, BOUND, now))


def test_a_second_run_changes_nothing(converged):
    proc = run(converged, ROLE, "-e", "mptcp_rejoin=true")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert re.search(r"changed=0\s", proc.stdout) and not re.search(r"changed=[1-9]", proc.stdout), proc.stdout[-2000:]


def test_state_absent_stops_it_and_removes_its_files(converged):
    lab = converged
    proc = run(lab, ROLE, "-e", "mptcp_rejoin=true", "-e", "mptcp_state=absent")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    for host in lab.hosts:
        assert systemctl(lab, host, "is-active", UNIT) in ("inactive", "unknown"), host
        assert systemctl(lab, host, "is-enabled", UNIT) in ("", "not-found"), host
        assert lab.exec(host, "pgrep", "-f", "mptcp-rejoin.py", check=False).returncode == 1, host
        for path in FILES:
            assert lab.exec(host, "test", "-e", path, check=False).returncode == 1, (host, path)
