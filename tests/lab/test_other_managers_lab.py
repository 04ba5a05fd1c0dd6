"""The other managers of a lab host's endpoints, limits and sysctls, for real, on a Debian
12 host of its own (NetworkManager 1.52's endpoints also on a Debian 13 host beside it,
without mptcpd): mptcpd 0.12 (Debian's packages, downloaded with apt-get on this
machine into .tmp/mptcpd-debs, copied into the host and installed with dpkg: the lab image
leaves mptcpd out, whose unit would otherwise fail on every host) run by its own unit
mptcp.service, NetworkManager 1.42 adding endpoints for its profiles, and a sysctl file
that comes after the role's.

mptcp.service fails in a container with status 226/NAMESPACE ("Failed at step NAMESPACE
spawning /usr/libexec/mptcpd: Operation not supported"): its DynamicUser=yes implies the
mount namespacing (ProtectSystem=strict, PrivateTmp...) that podman's containers here do
not allow. A drop-in with DynamicUser=no starts it (as root, still bounded to
CAP_NET_ADMIN by the unit's CapabilityBoundingSet).

Oracles: `systemctl`, `ip -j mptcp endpoint show`, `ip mptcp limits`, `sysctl -n`, the
files, and a reboot (`podman restart`) for which sysctl file wins."""

import json
import os
import secrets
import subprocess
import time

import pytest

import lab_session as shared

REPO = shared.REPO
LAB_SUBNETS = ["198.19.54.0/24", "198.19.55.0/24", "198.19.56.0/24"]
PACKAGES = ("mptcpd", "mptcpd-plugins", "libmptcpd3", "libell0")
CACHE = os.path.join(REPO, ".tmp", "mptcpd-debs")
DROPIN = "[Service]\n# mount namespacing (DynamicUser's) is not allowed in these containers\nDynamicUser=no\n"
LATER_FILE = "/etc/sysctl.d/99-hm-later.conf"
DRIFT = os.path.join(REPO, "playbooks", "drift.yml")
PLAY = """- name: The role, as site.yml runs it
  hosts: all
  become: true
  gather_facts: false
  roles:
    - role: mptcp.linux.mptcp
"""
HOST_TASK = "Set MPTCP up, or undo it, in one call"


def debs():
    os.makedirs(CACHE, exist_ok=True)
    found = sorted(name for name in os.listdir(CACHE) if name.endswith(".deb"))
    if len(found) < len(PACKAGES):
        got = subprocess.run(["apt-get", "download"] + list(PACKAGES), cwd=CACHE, capture_output=True, text=True, check=False)
        if got.returncode != 0:
            pytest.skip("mptcpd's Debian packages could not be downloaded (apt-get download %s: %s)"
                        % (" ".join(PACKAGES), got.stderr.strip()[-300:]))
        found = sorted(name for name in os.listdir(CACHE) if name.endswith(".deb"))
    return [os.path.join(CACHE, name) for name in found]


class Host:
    def __init__(self, lab, name, tmp):
        self.lab, self.name, self.tmp = lab, name, tmp

    def sh(self, script, check=True):
        return self.lab.exec(self.name, "sh", "-ec", script, check=check).stdout

    def endpoints(self):
        return sorted((e["address"], e.get("dev"), sorted(k for k, v in e.items() if v is True))
                      for e in json.loads(self.sh("ip -j mptcp endpoint show") or "[]"))

    def limits(self):
        words = self.sh("ip mptcp limits show").split()
        return dict((words[i], int(words[i + 1])) for i in range(0, len(words) - 1, 2))

    def role(self, variables, *args, env=None):
        """The role through ansible-playbook over SSH; (rc, mptcp_host's result, stdout)."""
        play = os.path.join(self.tmp, "play.yml")
        with open(play, "w") as handle:
            handle.write(PLAY)
        extra = os.path.join(self.tmp, "vars-%s.json" % secrets.token_hex(3))
        with open(extra, "w") as handle:
            json.dump(variables, handle)
        argv = [os.path.join(shared.BIN, "ansible-playbook"), "-i", self.lab.inventory, play, "-e", "@" + extra,
                "--limit", self.name]
        proc = subprocess.run(argv + list(args), capture_output=True, text=True, check=False, env=shared._env(
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", **(env or {})))
        report = json.loads(proc.stdout)
        results = [task["hosts"][self.name] for play_ in report["plays"] for task in play_["tasks"]
                   if task["task"]["name"].endswith(HOST_TASK) and self.name in task["hosts"]]
        return proc.returncode, results[-1], proc.stdout

    def wait_active(self, timeout=60):
        deadline = time.monotonic() + timeout
        while self.sh("systemctl is-active mptcp.service || true").strip() != "active":
            if time.monotonic() > deadline:
                raise AssertionError(self.sh("systemctl status mptcp.service --no-pager || true"))
            time.sleep(0.5)


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    """{distro: Host}: a Debian 12 host with mptcpd, a Debian 13 host without."""
    packages = debs()
    name = "hm-%s" % secrets.token_hex(3)
    names = {"debian12": "%s-deb12" % name, "debian13": "%s-deb13" % name}
    try:
        subnets = shared.free_subnets(name, LAB_SUBNETS)
        shared._lab(name, "up", "--host", "%s=debian12" % names["debian12"], "--host", "%s=debian13" % names["debian13"],
                    "--subnet", subnets[0], "--subnet", subnets[1], "--mgmt-subnet", subnets[2])
        lab = shared.Lab(name, dict((host_name, distro) for distro, host_name in names.items()))
        tmp = str(tmp_path_factory.mktemp("hm"))
        made = Host(lab, names["debian12"], tmp)
        host_name = made.name
        made.sh("mkdir -p /tmp/debs /etc/systemd/system/mptcp.service.d")
        for path in packages:
            subprocess.run(["podman", "cp", path, "%s:/tmp/debs/" % host_name], check=True, env=shared._env())
        made.sh("DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/debs/*.deb >/dev/null")
        made.sh("cat > /etc/systemd/system/mptcp.service.d/50-container.conf <<'EOF'\n%sEOF\n"
                "systemctl daemon-reload; systemctl restart mptcp.service" % DROPIN)
        made.wait_active()
        yield {"debian12": made, "debian13": Host(lab, names["debian13"], tmp)}
    finally:
        shared._lab(name, "down", check=False)


@pytest.fixture(scope="module")
def host(hosts):
    return hosts["debian12"]


def test_networkmanager_s_endpoints_are_what_it_sets_on_nm_1_52(hosts):
    """Debian 13 (NetworkManager 1.52), no mptcpd: the endpoints mptcp_info says
    NetworkManager sets are the kernel's, and mptcpd is seen as not installed."""
    other = hosts["debian13"]
    managers = other.lab.module("mptcp_info", {"gather_subset": ["managers"], "facts": False},
                                hosts=[other.name])[other.name]["mptcp"]["managers"]
    assert (managers["mptcpd"]["installed"], managers["mptcpd"]["running"]) == (False, False)
    nm_made = sorted((e["address"], e["dev"], e["flags"]) for e in managers["networkmanager"]["endpoints"])
    assert nm_made == other.endpoints() == sorted(
        (other.lab.address(other.name, dev), dev, ["subflow"]) for dev in ("eth0", "eth1"))


def test_mptcp_info_reports_mptcpd_and_networkmanager_s_endpoints(host):
    found = host.lab.module("mptcp_info", {"gather_subset": ["managers"], "facts": False}, hosts=[host.name])[host.name]
    managers = found["mptcp"]["managers"]
    mptcpd = managers["mptcpd"]
    main_pid = int(host.sh("systemctl show -p MainPID --value mptcp.service"))
    assert (mptcpd["unit"], mptcpd["running"], mptcpd["pids"]) == ("mptcp.service", True, [main_pid])
    assert mptcpd["enabled"] is (host.sh("systemctl is-enabled mptcp.service").strip() == "enabled") is True
    assert (mptcpd["config"], mptcpd["path_manager"]) == ("/etc/mptcpd/mptcpd.conf", "addr_adv")
    installed = sorted(os.path.basename(p)[:-3] for p in host.sh("ls /usr/lib/x86_64-linux-gnu/mptcpd/*.so").split())
    assert mptcpd["plugins"] == installed == ["addr_adv", "sspi"]
    assert mptcpd["writes"] == ["endpoints", "limits"]
    # mptcpd announces no address that was there when it started (Debian's config sets no
    # notify-flags): the kernel's endpoints are NetworkManager's, and exactly what it predicts.
    nm_made = sorted((e["address"], e["dev"], e["flags"]) for e in managers["networkmanager"]["endpoints"])
    assert nm_made == host.endpoints() == sorted(
        (host.lab.address(host.name, dev), dev, ["subflow"]) for dev in ("eth0", "eth1"))
    assert [e["profile"] for e in sorted(managers["networkmanager"]["endpoints"], key=lambda e: e["dev"])] == \
        ["lab-eth0", "lab-eth1"]


def role_vars(host, **more):
    eth1 = host.lab.address(host.name, "eth1")
    return dict(dict(mptcp_limits={"subflows": 2, "add_addr_accepted": 1},
                     mptcp_endpoints=[{"address": eth1, "dev": "eth1", "flags": ["signal"]}]), **more)


def test_the_role_refuses_while_mptcpd_manages_the_path_manager_and_changes_nothing(host):
    before = (host.endpoints(), host.limits())
    rc, result, out = host.role(role_vars(host))
    assert rc != 0 and result.get("failed") is True, out
    assert "mptcpd (mptcp.service running, plugins addr_adv, sspi; config /etc/mptcpd/mptcpd.conf)" in result["msg"]
    assert "systemctl disable --now mptcp.service" in result["msg"]
    assert (host.endpoints(), host.limits()) == before
    assert host.sh("test -e /etc/sysctl.d/90-mptcp.conf && echo there || echo missing").strip() == "missing"
    assert host.sh("systemctl is-active mptcp.service").strip() == "active"


def test_warn_sets_them_and_names_networkmanager_s_endpoint_of_the_same_address(host):
    eth1 = host.lab.address(host.name, "eth1")
    rc, result, out = host.role(role_vars(host, mptcp_other_managers="warn"))
    assert rc == 0, out
    warnings = result.get("warnings", [])
    assert any("mptcpd (mptcp.service running" in w and "mptcp_other_managers is warn" in w for w in warnings), warnings
    assert any("NetworkManager's profile lab-eth1 sets its own endpoint for %s on eth1 (flags subflow)" % eth1 in w
               for w in warnings), warnings
    assert host.limits() == {"add_addr_accepted": 1, "subflows": 2}
    assert (eth1, "eth1", ["signal"]) in host.endpoints()

    # The profile told off: no warning of NetworkManager (mptcpd's still there).
    rc, result, out = host.role(role_vars(host, mptcp_other_managers="warn",
                                          mptcp_nm_profiles=[{"name": "lab-eth1", "flags": ["disabled"]}]))
    assert rc == 0, out
    assert not any("NetworkManager's profile" in w for w in result.get("warnings", [])), result.get("warnings")
    assert host.sh("nmcli -g connection.mptcp-flags connection show lab-eth1").strip() == "0x1"


def test_the_drift_report_says_mptcpd_and_networkmanager_changed_them(host, tmp_path):
    """After the role set them, an address comes to eth1: mptcpd's addr_adv adds its
    endpoint and rewrites the limits. The drift check (exclusive: every endpoint is the
    role's) names mptcpd for the limits and that endpoint, NetworkManager for eth0's."""
    later = host.lab.address(host.name, "eth1").rsplit(".", 1)[0] + ".99"
    host.sh("ip address add %s/24 dev eth1" % later)
    deadline = time.monotonic() + 10
    while host.limits() == {"add_addr_accepted": 1, "subflows": 2} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert host.limits() != {"add_addr_accepted": 1, "subflows": 2}
    assert later in [address for address, _dev, _flags in host.endpoints()]
    variables = role_vars(host, mptcp_other_managers="warn", mptcp_endpoints_exclusive=True,
                          mptcp_nm_profiles=[{"name": "lab-eth1", "flags": ["disabled"]}])
    extra = os.path.join(str(tmp_path), "vars.json")
    with open(extra, "w") as handle:
        json.dump(variables, handle)
    report_dir = str(tmp_path / "report")
    proc = subprocess.run([os.path.join(shared.BIN, "ansible-playbook"), "-i", host.lab.inventory, DRIFT, "-e", "@" + extra,
                           "--limit", host.name],
                          capture_output=True, text=True, check=False,
                          env=shared._env(MPTCP_DRIFT_REPORT_DIR=report_dir, ANSIBLE_CALLBACKS_ENABLED="mptcp.linux.drift_report"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(report_dir, "drift.json")) as handle:
        differences = json.load(handle)["hosts"][host.name]["differences"]
    who = [line for d in differences if d["action"] == "mptcp.linux.mptcp_path_manager" for line in d["changed_by"]]
    eth0 = host.lab.address(host.name, "eth0")
    assert any(line.startswith("limits: mptcpd (running, plugins addr_adv, sspi) sets them itself") for line in who), who
    assert "endpoint %s: mptcpd (running, plugins addr_adv, sspi) adds an endpoint for every local address" % later in who
    assert "endpoint %s: NetworkManager sets it for profile lab-eth0 on eth0 (flags subflow)" % eth0 in who
    host.sh("ip address del %s/24 dev eth1" % later)


def test_a_later_sysctl_file_is_warned_of_and_wins_after_a_reboot(host):
    host.sh("printf 'net.mptcp.add_addr_timeout = 30\\n' > %s" % LATER_FILE)
    rc, result, out = host.role(dict(role_vars(host, mptcp_other_managers="warn"),
                                     mptcp_sysctl={"enabled": 1, "add_addr_timeout": 60}))
    assert rc == 0, out
    assert ("net.mptcp.add_addr_timeout: %s sets 30 and wins at boot over /etc/sysctl.d/90-mptcp.conf, so after a "
            "reboot it will be 30, not 60" % LATER_FILE) in result.get("warnings", []), result.get("warnings")
    assert host.sh("sysctl -n net.mptcp.add_addr_timeout").strip() == "60"
    boot = host.lab.module("mptcp_info", {"gather_subset": ["managers"], "facts": False}, hosts=[host.name])[host.name]
    assert boot["mptcp"]["managers"]["sysctl_boot"]["add_addr_timeout"] == {
        "value": 30, "file": LATER_FILE,
        "files": [{"file": "/etc/sysctl.d/90-mptcp.conf", "value": 60}, {"file": LATER_FILE, "value": 30}]}
    # The reboot: systemd-sysctl applies the files in its order, and the later one wins;
    # mptcpd, enabled, is back too.
    subprocess.run(["podman", "restart", "-t", "5", host.name], check=True, capture_output=True, env=shared._env())
    deadline = time.monotonic() + 90
    while host.sh("systemctl is-system-running || true", check=False).strip() not in ("running", "degraded"):
        assert time.monotonic() < deadline, "the host did not boot"
        time.sleep(1)
    assert host.sh("sysctl -n net.mptcp.add_addr_timeout").strip() == "30"
    host.wait_active()
