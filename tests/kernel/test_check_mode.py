"""Check mode changes nothing, and still tells the truth (changed and the diff), for the
modules whose check mode no other test below the lab could see:

- mptcp_systemd, run through Ansible with unit_dir in a temporary directory and a
  systemctl double first in PATH: the directory is the oracle for files (every path, its
  text, mode, owner and link target, before and after), the double's log for what was
  asked of systemd. A real systemctl would enable and reload on this machine.
- mptcp_sysctl in every mode (runtime and file, one of them, absent), inside a fresh
  network namespace with its file in a temporary directory: `sysctl` and the directory
  are the oracles.
- nm_mptcp_flags, run through Ansible inside a fresh network namespace (the addresses and
  endpoints it reads are the namespace's, through the real `ip`) and a private mount
  namespace where /etc is an overlay (the module locks /etc/NetworkManager, which this
  machine may not have), with doubles of nmcli, busctl and NetworkManager first in PATH:
  NetworkManager cannot run here, so the one question the doubles answer is whether a
  command that modifies a profile or a device ran.

The real run after each check run shows the oracles see a change when there is one, and
that check mode predicted it. (mptcp_limits, mptcp_endpoint and mptcp_path_manager are
checked the same way against the kernel in their own test files.)"""

import json
import os
import stat
import sys

import pytest

SYSTEMCTL = """#!%(python)s
# systemctl double: logs argv, keeps the enabled units in a file.
import json, sys
log, state = %(log)r, %(state)r
args = sys.argv[1:]
with open(log, "a") as handle:
    handle.write(json.dumps(args) + "\\n")
enabled = set(json.load(open(state)))
if args[0] == "is-enabled":
    print("enabled" if args[1] in enabled else "disabled")
    sys.exit(0 if args[1] in enabled else 1)
if args[0] == "enable":
    enabled.add(args[1])
elif args[0] == "disable":
    enabled.discard(args[1])
json.dump(sorted(enabled), open(state, "w"))
"""

UNIT = "[Unit]\nDescription=MPTCP test unit\n\n[Service]\nType=oneshot\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"
DROPIN = '[Service]\nEnvironment="LD_PRELOAD=/usr/lib/libmptcpwrap.so.0.0.1"\n'


def tree(directory):
    """{relative path: (type, mode, uid, gid, text or link target)} of everything under
    directory, the directory itself included."""
    found = {}
    for root, dirs, files in os.walk(directory):
        for name in [""] + dirs + files:
            path = os.path.join(root, name) if name else root
            rel = os.path.relpath(path, directory)
            if rel in found:
                continue
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                content = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                content = ("dir", None)
            else:
                with open(path) as handle:
                    content = ("file", handle.read())
            found[rel] = (content[0], stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, content[1])
    return found


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


class Systemd:
    """A unit directory, and a systemctl double (first in PATH for the module)."""

    def __init__(self, base):
        self.unit_dir = os.path.join(base, "system")
        os.mkdir(self.unit_dir)
        self.bin = os.path.join(base, "bin")
        os.mkdir(self.bin)
        self.log = os.path.join(base, "systemctl.log")
        self.state = os.path.join(base, "enabled.json")
        self.set_enabled([])
        path = os.path.join(self.bin, "systemctl")
        with open(path, "w") as handle:
            handle.write(SYSTEMCTL % dict(python=sys.executable, log=self.log, state=self.state))
        os.chmod(path, 0o755)

    def set_enabled(self, units):
        with open(self.state, "w") as handle:
            json.dump(units, handle)
        open(self.log, "w").close()

    def calls(self):
        with open(self.log) as handle:
            return [json.loads(line) for line in handle]

    def wrap(self):
        return ["env", "PATH=%s:%s" % (self.bin, os.environ["PATH"])]


@pytest.fixture
def systemd(tmp_path):
    return Systemd(str(tmp_path))


def _install(systemd):
    """Nothing there yet."""


def _remove(systemd):
    write(os.path.join(systemd.unit_dir, "mptcp-test.service"), UNIT)
    write(os.path.join(systemd.unit_dir, "a.service.d", "50-mptcp.conf"), DROPIN)
    write(os.path.join(systemd.unit_dir, "b.service.d", "50-mptcp.conf"), DROPIN)
    systemd.set_enabled(["mptcp-test.service"])


def _fix(systemd):
    write(os.path.join(systemd.unit_dir, "mptcp-test.service"), UNIT, mode=0o600)
    write(os.path.join(systemd.unit_dir, "a.service.d", "50-mptcp.conf"), DROPIN, mode=0o640)
    os.chmod(os.path.join(systemd.unit_dir, "a.service.d"), 0o700)
    systemd.set_enabled(["mptcp-test.service"])


def _change(systemd):
    write(os.path.join(systemd.unit_dir, "mptcp-test.service"), UNIT.replace("/bin/true", "/bin/false"))
    write(os.path.join(systemd.unit_dir, "a.service.d", "50-mptcp.conf"), DROPIN)
    write(os.path.join(systemd.unit_dir, "a.service.d", "other.conf"), "[Service]\n")
    systemd.set_enabled([])


DROPIN_AB = {"name": "50-mptcp.conf", "content": DROPIN, "services": ["a.service", "b.service"]}
SYSTEMD_CASES = {
    # name: (setup, args, files changed, services changed, systemctl calls of the real run)
    "install": (_install, {"unit": {"name": "mptcp-test.service", "content": UNIT}, "dropin": DROPIN_AB},
                ["a.service.d/50-mptcp.conf", "b.service.d/50-mptcp.conf", "mptcp-test.service"],
                ["a.service", "b.service"], [["daemon-reload"], ["enable", "mptcp-test.service"]]),
    "remove": (_remove, {"unit": {"name": "mptcp-test.service", "state": "absent"},
                         "dropin": {"name": "50-mptcp.conf", "services": []}},
               ["a.service.d/50-mptcp.conf", "b.service.d/50-mptcp.conf", "mptcp-test.service"],
               ["a.service", "b.service"], [["disable", "mptcp-test.service"], ["daemon-reload"]]),
    "fix modes": (_fix, {"unit": {"name": "mptcp-test.service", "content": UNIT},
                         "dropin": dict(DROPIN_AB, services=["a.service"])},
                  ["a.service.d/50-mptcp.conf", "mptcp-test.service"], ["a.service"], []),
    "change": (_change, {"unit": {"name": "mptcp-test.service", "content": UNIT},
                         "dropin": dict(DROPIN_AB, services=["b.service"])},
               ["a.service.d/50-mptcp.conf", "b.service.d/50-mptcp.conf", "mptcp-test.service"],
               ["a.service", "b.service"], [["daemon-reload"], ["enable", "mptcp-test.service"]]),
}


@pytest.mark.parametrize("case", sorted(SYSTEMD_CASES))
def test_systemd_check_mode_touches_nothing_and_predicts_the_real_run(systemd, module_runner, case):
    setup, args, files, services, real_calls = SYSTEMD_CASES[case]
    setup(systemd)
    args = dict(args, unit_dir=systemd.unit_dir)
    before = tree(systemd.unit_dir)

    predicted = module_runner("mptcp_systemd", args, check_mode=True, wrap=systemd.wrap())
    assert "failed" not in predicted, predicted.get("msg")
    assert tree(systemd.unit_dir) == before
    # Only questions: whether the unit is enabled, asked only where its file exists.
    asked = [["is-enabled", "mptcp-test.service"]] if "mptcp-test.service" in before else []
    assert systemd.calls() == asked
    # Honest: the drift is reported, with the files and the diff a real run has.
    assert predicted["changed"] is True
    assert predicted["files_changed"] == [os.path.join(systemd.unit_dir, name) for name in files]
    assert predicted["services_changed"] == services
    assert predicted["diff"]

    open(systemd.log, "w").close()
    real = module_runner("mptcp_systemd", args, wrap=systemd.wrap())
    assert "failed" not in real, real.get("msg")
    for key in ("changed", "files_changed", "services_changed", "unit_enabled", "diff"):
        assert predicted[key] == real[key], key
    assert tree(systemd.unit_dir) != before
    assert [call for call in systemd.calls() if call[0] != "is-enabled"] == real_calls
    again = module_runner("mptcp_systemd", args, check_mode=True, wrap=systemd.wrap())
    assert again["changed"] is False, again.get("diff")


def test_systemd_check_mode_with_nothing_to_do_is_unchanged(systemd, module_runner):
    args = {"unit": {"name": "mptcp-test.service", "content": UNIT}, "unit_dir": systemd.unit_dir}
    module_runner("mptcp_systemd", args, wrap=systemd.wrap())
    before = tree(systemd.unit_dir)
    result = module_runner("mptcp_systemd", args, check_mode=True, wrap=systemd.wrap())
    assert (result["changed"], result["files_changed"]) == (False, [])
    assert tree(systemd.unit_dir) == before


# --- mptcp_sysctl ----------------------------------------------------------------------

def mptcp_sysctls(netns):
    """net.mptcp.* of the namespace, as `sysctl` (procps) prints them."""
    out = netns.exec("sysctl", "net.mptcp").stdout
    return dict(line.split(" = ", 1) for line in out.splitlines())


SYSCTL_CASES = {
    # name: (the file before, the module's arguments)
    "runtime and file": (None, {"settings": {"enabled": 0, "close_timeout": 30}}),
    "runtime only": ("net.mptcp.enabled = 1\n", {"settings": {"checksum_enabled": 1}, "persist": False}),
    "file only": ("net.mptcp.enabled = 1\n", {"settings": {"enabled": 0}, "runtime": False}),
    "absent": ("net.ipv4.ip_forward = 1\nnet.mptcp.enabled = 0\n",
               {"settings": {"enabled": None}, "state": "absent"}),
}


@pytest.mark.parametrize("case", sorted(SYSCTL_CASES))
def test_sysctl_check_mode_touches_nothing_and_predicts_the_real_run(netns, tmp_path, module_runner, case):
    text, args = SYSCTL_CASES[case]
    directory = str(tmp_path / "sysctl.d")
    os.mkdir(directory)
    if text is not None:
        write(os.path.join(directory, "90-mptcp.conf"), text)
    args = dict(args, path=os.path.join(directory, "90-mptcp.conf"))
    before = (mptcp_sysctls(netns), tree(directory))

    predicted = module_runner("mptcp_sysctl", args, check_mode=True, inside_netns=netns.name)
    assert "failed" not in predicted, predicted.get("msg")
    assert (mptcp_sysctls(netns), tree(directory)) == before
    assert predicted["changed"] is True and predicted["diff"]

    real = module_runner("mptcp_sysctl", args, inside_netns=netns.name)
    for key in ("changed", "runtime", "persisted", "conflicts", "diff"):
        assert predicted[key] == real[key], key
    assert (mptcp_sysctls(netns), tree(directory)) != before
    assert module_runner("mptcp_sysctl", args, check_mode=True, inside_netns=netns.name)["changed"] is False


# --- nm_mptcp_flags --------------------------------------------------------------------

NMCLI = """#!%(python)s
# nmcli double: logs argv; profiles, their saved flags and what each device runs are in
# a JSON file. Outputs are as NetworkManager 1.52 prints them (fixtures/nm recordings).
import json, sys
log, path = %(log)r, %(state)r
args = sys.argv[1:]
with open(log, "a") as handle:
    handle.write(json.dumps(["nmcli"] + args) + "\\n")
state = json.load(open(path))
profiles = state["profiles"]
def save():
    json.dump(state, open(path, "w"))
if args == ["-t", "-f", "RUNNING,VERSION", "general"]:
    print("running:1.52.1")
elif args == ["--version"]:
    print("nmcli tool, version 1.52.1")
elif args == ["-t", "-f", "NAME,UUID,TYPE,DEVICE,ACTIVE", "connection", "show"]:
    for p in profiles:
        print("%%s:%%s:802-3-ethernet:%%s:%%s" %% (p["name"], p["uuid"], p["device"] or "",
                                                 "yes" if p["device"] else "no"))
elif args[:4] == ["-g", "connection.uuid,connection.mptcp-flags", "connection", "show"]:
    uuids = args[5::2]
    print("\\n\\n".join("%%s\\n0x%%x" %% (u, [p for p in profiles if p["uuid"] == u][0]["saved"])
                      for u in uuids))
elif args[:3] == ["connection", "modify", "uuid"]:
    [p for p in profiles if p["uuid"] == args[3]][0]["saved"] = int(args[5], 16)
    save()
elif args[:2] == ["device", "reapply"]:
    p = [p for p in profiles if p["device"] == args[2]][0]
    p["running"] = p["saved"]
    save()
elif args[:3] == ["connection", "up", "uuid"] and args[4] == "ifname":
    p = [p for p in profiles if p["uuid"] == args[3] and p["device"] == args[5]][0]
    p["running"] = p["saved"]
    save()
else:
    sys.stderr.write("nmcli double: not handled: %%r\\n" %% (args,))
    sys.exit(2)
"""

BUSCTL = """#!%(python)s
# busctl double: the device path and the applied connection's mptcp-flags of a device,
# in busctl's text form.
import json, sys
log, path = %(log)r, %(state)r
args = sys.argv[1:]
with open(log, "a") as handle:
    handle.write(json.dumps(["busctl"] + args) + "\\n")
profiles = json.load(open(path))["profiles"]
if args[-3] == "GetDeviceByIpIface":
    print('o "/org/freedesktop/NetworkManager/Devices/%%s"' %% args[-1])
elif args[-3] == "GetAppliedConnection":
    device = args[2].rsplit("/", 1)[1]
    p = [p for p in profiles if p["device"] == device][0]
    print('a{sa{sv}}t 1 "connection" 2 "id" s "%%s" "mptcp-flags" u %%d 0' %% (p["name"], p["running"]))
else:
    sys.exit(1)
"""

NETWORKMANAGER = """#!/bin/sh
# NetworkManager --print-config double: a NetworkManager.conf that sets no default.
echo "[main]"
echo "plugins=keyfile"
"""

# Modify a profile or a device: none of these may run in check mode.
MODIFYING = (["connection", "modify"], ["connection", "up"], ["device", "reapply"],
             ["connection", "reload"], ["device", "connect"], ["device", "disconnect"])


class FakeNetworkManager:
    def __init__(self, base, profiles):
        self.bin = os.path.join(base, "nmbin")
        os.mkdir(self.bin)
        self.log = os.path.join(base, "nm.log")
        self.path = os.path.join(base, "nm.json")
        with open(self.path, "w") as handle:
            json.dump({"profiles": profiles}, handle)
        open(self.log, "w").close()
        values = dict(python=sys.executable, log=self.log, state=self.path)
        for name, text in (("nmcli", NMCLI % values), ("busctl", BUSCTL % values),
                           ("NetworkManager", NETWORKMANAGER)):
            with open(os.path.join(self.bin, name), "w") as handle:
                handle.write(text)
            os.chmod(os.path.join(self.bin, name), 0o755)
        self.upper = os.path.join(base, "etc-upper")
        self.work = os.path.join(base, "etc-work")
        os.mkdir(self.upper)
        os.mkdir(self.work)

    def wrap(self, private_mounts):
        """The module's process in a mount namespace of its own where /etc is an overlay
        (changes go to etc-upper here) with /etc/NetworkManager in it, the doubles first
        in PATH."""
        before = [["mount", "-t", "overlay", "overlay", "-o",
                   "lowerdir=/etc,upperdir=%s,workdir=%s" % (self.upper, self.work), "/etc"],
                  ["mkdir", "-p", "/etc/NetworkManager"]]
        return private_mounts(before) + ["env", "PATH=%s:%s" % (self.bin, os.environ["PATH"])]

    def calls(self):
        with open(self.log) as handle:
            return [json.loads(line) for line in handle]

    def modifying(self):
        return [call for call in self.calls()
                if call[0] == "nmcli" and any(call[1:1 + len(m)] == m for m in MODIFYING)]

    def state(self):
        with open(self.path) as handle:
            return json.load(handle)["profiles"]


UUID1 = "1ba80109-8530-54a7-b5cf-fd663bd47305"
UUID2 = "d79f2f80-0638-5dfa-ba4d-bc01a51d0e77"


@pytest.fixture
def nm_host(netns, tmp_path):
    """A namespace with eth1 (198.18.22.11, an endpoint on it, as NetworkManager would
    have made for subflow) and eth0, and NetworkManager's doubles: lab-eth1 saved and
    running with subflow,backup, lab-eth0 at 0."""
    netns.add_interface("eth1", "198.18.22.11/24")
    netns.add_interface("eth0", "198.18.21.11/24")
    netns.ip("route", "add", "default", "via", "198.18.22.1")
    netns.ip("mptcp", "endpoint", "add", "198.18.22.11", "dev", "eth1", "id", "4", "subflow", "backup")
    nm = FakeNetworkManager(str(tmp_path), [
        {"name": "lab-eth1", "uuid": UUID1, "device": "eth1", "saved": 0x60, "running": 0x60},
        {"name": "lab-eth0", "uuid": UUID2, "device": "eth0", "saved": 0x0, "running": 0x0}])
    return netns, nm


def test_nm_check_mode_runs_no_modifying_command_and_reports_the_drift(nm_host, module_runner, private_mounts):
    netns, nm = nm_host
    # Both lists are in NetworkManager's (bit) order, which is not the alphabetical one.
    eth1_flags = ["also-without-sysctl", "also-without-default-route", "signal"]
    args = {"profiles": [{"name": "lab-eth1", "flags": eth1_flags},
                         {"name": "lab-eth0", "flags": ["subflow", "backup"]}]}
    endpoints_before = netns.endpoints()
    predicted = module_runner("nm_mptcp_flags", args, check_mode=True, inside_netns=netns.name,
                              wrap=nm.wrap(private_mounts))
    assert "failed" not in predicted, predicted.get("msg")
    assert nm.modifying() == []
    assert [p["saved"] for p in nm.state()] == [0x60, 0x0]
    assert netns.endpoints() == endpoints_before
    # Nothing written to /etc (the overlay's upper layer holds what was): at most the lock's
    # directory, which the test made where this machine has none.
    assert sorted(tree(nm.upper)) in (["."], [".", "NetworkManager"])

    assert predicted["changed"] is True
    assert predicted["diff"] == {
        "before": {"lab-eth1": ["subflow", "backup"], "lab-eth1 on eth1": ["subflow", "backup"],
                   "lab-eth0": [], "lab-eth0 on eth0": []},
        "after": {"lab-eth1": eth1_flags, "lab-eth1 on eth1": eth1_flags,
                  "lab-eth0": ["subflow", "backup"], "lab-eth0 on eth0": ["subflow", "backup"]}}
    profiles = dict((p["name"], p) for p in predicted["profiles"])
    assert profiles["lab-eth1"]["flags_before"] == ["subflow", "backup"]
    assert profiles["lab-eth1"]["flags_after"] == eth1_flags
    assert profiles["lab-eth1"]["applied"] == "reapply"
    assert profiles["lab-eth0"]["running"] == {"eth0": ["subflow", "backup"]}
    # What the kernel holds now, read through the real `ip` in the namespace.
    assert [(e["address"], e["id"], e["dev"], e["profile"], e["device"]) for e in predicted["endpoints"]] == [
        ("198.18.22.11", 4, "eth1", "lab-eth1", "eth1")]

    # The real run: the double sees the writes, and check mode predicted this run.
    real = module_runner("nm_mptcp_flags", args, inside_netns=netns.name, wrap=nm.wrap(private_mounts))
    assert [call[1:4] for call in nm.modifying()] == [
        ["connection", "modify", "uuid"], ["connection", "modify", "uuid"],
        ["device", "reapply", "eth1"], ["device", "reapply", "eth0"]]
    assert [p["saved"] for p in nm.state()] == [0x1c, 0x60]
    for key in ("changed", "diff", "profiles"):
        assert predicted[key] == real[key], key
    # The doubles make no endpoints, as NetworkManager would: the module waited for them and
    # says so, reading the namespace's kernel.
    assert real["warnings"] == [
        "profile lab-eth1 was applied to eth1 (reapply) but after 10 s the kernel shows: 198.18.22.11 "
        "has endpoint id 4 with [subflow, backup], expected [signal]",
        "profile lab-eth0 was applied to eth0 (reapply) but after 10 s the kernel shows: 198.18.21.11 "
        "has no endpoint (expected one with [subflow, backup])"]
    again = module_runner("nm_mptcp_flags", args, check_mode=True, inside_netns=netns.name,
                          wrap=nm.wrap(private_mounts))
    assert again["changed"] is False, again.get("diff")


@pytest.mark.parametrize("apply, command", [
    ("reapply", ["device", "reapply", "eth1"]),
    ("reactivate", ["connection", "up", "uuid", UUID1, "ifname", "eth1"]),
])
def test_nm_check_mode_of_a_device_left_behind_applies_nothing(nm_host, module_runner, private_mounts,
                                                               apply, command):
    """Saved already, but the device runs other flags (an earlier apply=none): check mode
    reports the device's drift and does not apply the profile to it."""
    netns, nm = nm_host
    args = {"name": "lab-eth1", "flags": ["subflow", "backup"], "apply": apply}
    state = nm.state()
    state[0]["running"] = 0x20
    with open(nm.path, "w") as handle:
        json.dump({"profiles": state}, handle)
    predicted = module_runner("nm_mptcp_flags", args, check_mode=True, inside_netns=netns.name,
                              wrap=nm.wrap(private_mounts))
    assert "failed" not in predicted, predicted.get("msg")
    assert nm.modifying() == []
    assert predicted["changed"] is True
    assert predicted["diff"]["before"] == {"lab-eth1": ["subflow", "backup"], "lab-eth1 on eth1": ["subflow"]}
    assert predicted["diff"]["after"] == {"lab-eth1": ["subflow", "backup"], "lab-eth1 on eth1": ["subflow", "backup"]}
    real = module_runner("nm_mptcp_flags", args, inside_netns=netns.name, wrap=nm.wrap(private_mounts))
    assert [call[1:] for call in nm.modifying()] == [command]
    assert real["diff"] == predicted["diff"]
    assert real["profiles"][0]["applied"] == predicted["profiles"][0]["applied"] == apply
