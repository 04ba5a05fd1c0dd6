"""mptcp.linux.nm_mptcp_flags against the real NetworkManager 1.42 (Debian 12) and 1.52
(Debian 13) of the session's lab. Every test runs the module on both hosts at once and
checks each with its own oracles: `nmcli -g connection.mptcp-flags` for the profile,
`ip -j mptcp endpoint show` for the kernel, `ip monitor address` for disruption."""

import json
import os
import shlex
import subprocess
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE = os.path.join(REPO, "plugins", "modules", "nm_mptcp_flags.py")
# An IPv6-only profile (no IPv6 default route in the lab) whose name has a space, quotes,
# nmcli's field separator, a backslash and non-ASCII.
ODD = u'lab "v6": pr\u00fcfung\\x'
ODD_ADDRESS = "2001:db8:21::10"
TWIN = "twin"
SPARE = "spare uplink"
LAB_PROFILES = ("lab-eth0", "lab-eth1")
FAKE_OLD_NMCLI = "/usr/local/bin/nmcli"


# --- oracles -----------------------------------------------------------------------------

def saved(lab, host, profile):
    """The profile's property as nmcli prints it with -g (a number like 0x30)."""
    return lab.exec(host, "nmcli", "-g", "connection.mptcp-flags", "connection", "show",
                    profile).stdout.strip()


def uuid_of(lab, host, profile):
    return lab.exec(host, "nmcli", "-g", "connection.uuid", "connection", "show", profile).stdout.strip()


def kernel_endpoints(lab, host):
    """{address: sorted flag names} from `ip -j mptcp endpoint show`."""
    entries = json.loads(lab.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout or "[]")
    return dict((entry["address"], sorted(key for key, value in entry.items() if value is True))
                for entry in entries)


def snapshot(lab):
    """Everything a failed or check-mode run must leave alone, per host."""
    return dict((host, dict(
        flags=dict((profile, saved(lab, host, profile)) for profile in LAB_PROFILES + (SPARE,)),
        endpoints=kernel_endpoints(lab, host))) for host in lab.hosts)


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def nm_ready(lab, host):
    """NetworkManager runs and eth0, eth1 and mpt0 have their profiles up."""
    states = lab.exec(host, "nmcli", "-t", "-f", "DEVICE,STATE", "device", check=False).stdout.split()
    return all("%s:connected" % device in states for device in ("eth0", "eth1", "mpt0"))


# --- the lab, prepared -------------------------------------------------------------------

@pytest.fixture(scope="module")
def nm(lab):
    """The lab with, on each host, the odd IPv6 profile active on a veth `mpt0`, two
    inactive profiles sharing the name `twin`, and an inactive `spare uplink`."""
    for host in lab.hosts:
        lab.exec(host, "ip", "link", "add", "mpt0", "type", "veth", "peer", "name", "mpt0p")
        lab.exec(host, "ip", "link", "set", "mpt0p", "up")
        lab.exec(host, "nmcli", "device", "set", "mpt0p", "managed", "no")
        lab.exec(host, "nmcli", "connection", "add", "type", "ethernet", "ifname", "mpt0",
                 "con-name", ODD, "ipv4.method", "disabled", "ipv6.method", "manual",
                 "ipv6.addresses", ODD_ADDRESS + "/64")
        for name, iface in ((TWIN, "twin0"), (TWIN, "twin1"), (SPARE, "spare0")):
            lab.exec(host, "nmcli", "connection", "add", "type", "ethernet", "ifname", iface,
                     "con-name", name, "connection.autoconnect", "no")
    for host in lab.hosts:
        assert wait_until(lambda: nm_ready(lab, host)), "%s: profiles did not come up" % host
    return lab


@pytest.fixture(autouse=True)
def baseline(nm):
    """Each test starts with every profile at 0, applied, and MPTCP enabled (one script
    per host, the hosts in parallel)."""
    steps = ["sysctl -q -w net.mptcp.enabled=1"]
    for profile, device in (("lab-eth0", "eth0"), ("lab-eth1", "eth1"), (ODD, "mpt0"), (SPARE, None)):
        steps.append("nmcli connection modify %s connection.mptcp-flags 0" % shlex.quote(profile))
        if device:
            steps.append("nmcli device reapply %s >/dev/null" % device)
    for host, result in nm.exec_all("sh", "-c", " && ".join(steps)).items():
        assert result.returncode == 0, (host, result.stdout, result.stderr)
    for host in nm.hosts:
        eth1 = nm.address(host, "eth1")
        assert wait_until(lambda: kernel_endpoints(nm, host).get(eth1) == ["subflow"]), (
            host, kernel_endpoints(nm, host), nm.exec(host, "ip", "address").stdout,
            nm.exec(host, "nmcli", "device").stdout)
    return nm


def run(lab, args, **kwargs):
    results = lab.module("nm_mptcp_flags", args, **kwargs)
    assert sorted(results) == sorted(kwargs.get("hosts") or lab.hosts)
    return results


# --- set, change, clear, idempotence -----------------------------------------------------

def test_set_change_clear_and_repeat(nm):
    steps = [
        (["signal", "subflow"], "0x30", ["signal", "subflow"]),
        (["subflow", "backup"], "0x60", ["backup", "subflow"]),
        (["fullmesh", "subflow", "also-without-default-route"], "0xa8", ["fullmesh", "subflow"]),
        ([], "0x0", ["subflow"]),  # NetworkManager's default: enabled,subflow
    ]
    for flags, number, endpoint in steps:
        first = run(nm, {"name": "lab-eth1", "flags": flags})
        again = run(nm, {"name": "lab-eth1", "flags": list(reversed(flags))})
        for host in nm.hosts:
            eth1 = nm.address(host, "eth1")
            assert first[host]["changed"] is True, (host, flags, first[host])
            assert saved(nm, host, "lab-eth1") == number
            assert kernel_endpoints(nm, host)[eth1] == endpoint, (host, flags)
            profile, = first[host]["profiles"]
            assert profile["applied"] == "reapply"
            order = ("also-without-default-route", "signal", "subflow", "backup", "fullmesh")
            assert profile["running"] == {"eth1": [f for f in order if f in flags]}
            assert [e["flags"] for e in first[host]["endpoints"] if e["address"] == eth1] == [
                [f for f in ("signal", "subflow", "backup", "fullmesh") if f in endpoint]]
            assert again[host]["changed"] is False, (host, flags, again[host])
            assert "warnings" not in first[host] and "warnings" not in again[host]


# Holds NetworkManager's lock inside a host as another run of the module would (a reader:
# shared), prints its pid once it has it, and lets go when its stdin closes.
HOLD_NM_LOCK = """
import fcntl, os, sys
fd = os.open("/etc/NetworkManager", os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_SH)
print(os.getpid(), flush=True)
sys.stdin.read()
"""
# Which processes have /etc/NetworkManager open (the module opens it to lock it), but pid argv[1].
AT_NM_LOCK = """
import os, sys
at = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fds = os.listdir("/proc/%s/fd" % pid)
        if pid != sys.argv[1] and any(os.readlink("/proc/%s/fd/%s" % (pid, fd)) == "/etc/NetworkManager" for fd in fds):
            at.append(pid)
    except OSError:
        pass
print(len(at))
"""
LOCK_WINDOW = 5.0  # seconds after every run is at the lock: past it, a run writes a profile at once


def test_runs_at_once_take_turns(nm):
    """Four runs at once asking the same change, while another run holds NetworkManager's
    lock (a reader: shared) on each host: all four wait at the lock and change nothing, and
    a check-mode run (a reader too) is not held up; once the holder lets go, one makes the
    change and the three others find nothing to do (unlocked, several read the old flags
    and each wrote and reapplied). The overlap is certain, not hoped for: the test waits
    until every run has the lock's directory open before it watches."""
    from concurrent.futures import ThreadPoolExecutor
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf"))
    wanted = {"name": "lab-eth1", "flags": ["signal", "subflow"]}
    before = snapshot(nm)
    holders = dict((host, subprocess.Popen(["podman", "exec", "-i", host, "timeout", "600", "python3", "-c",
                                            HOLD_NM_LOCK], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           text=True, env=env)) for host in nm.hosts)
    # The holders let go before the pool waits for the runs, however the test ends.
    with ThreadPoolExecutor(max_workers=5) as pool:
        try:
            holder_pids = dict((host, holder.stdout.readline().strip()) for host, holder in holders.items())
            runs = [pool.submit(run, nm, args) for args in [wanted] * 4]

            def nothing_got_past_the_lock(when):
                assert [r.done() for r in runs] == [False] * 4, (when, [r.result() for r in runs if r.done()])
                assert snapshot(nm) == before, when

            deadline = time.monotonic() + 120  # a bound: runs reach the lock in seconds
            while not all(nm.exec(host, "python3", "-c", AT_NM_LOCK, holder_pids[host]).stdout.strip() == "4"
                          for host in nm.hosts):
                nothing_got_past_the_lock("before every run was at the lock")
                assert time.monotonic() < deadline, "the runs never reached the lock"
                time.sleep(0.2)
            # Bounded: alone it takes seconds; locked exclusively it would wait for the holder.
            checked = pool.submit(run, nm, wanted, check=True).result(timeout=60)
            watched_until = time.monotonic() + LOCK_WINDOW
            while time.monotonic() < watched_until:
                nothing_got_past_the_lock("with every run at the lock")
        finally:
            for holder in holders.values():
                holder.stdin.close()
            for holder in holders.values():
                try:
                    holder.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    holder.kill()
                    holder.wait()
        assert [holder.returncode for holder in holders.values()] == [0] * len(holders)
        results = [r.result() for r in runs]
    for host in nm.hosts:
        assert (checked[host].get("failed", False), checked[host]["changed"]) == (False, True), checked[host]
        assert [r[host].get("failed", False) for r in results] == [False] * 4, results
        assert sorted(r[host]["changed"] for r in results) == [False, False, False, True], (host, results)
        assert saved(nm, host, "lab-eth1") == "0x30"
        assert kernel_endpoints(nm, host)[nm.address(host, "eth1")] == ["signal", "subflow"]


def test_profile_by_uuid(nm):
    for host in nm.hosts:
        uuid = uuid_of(nm, host, "lab-eth0")
        result = run(nm, {"name": uuid, "flags": ["backup", "subflow"]}, hosts=[host])[host]
        assert result["changed"] is True
        assert result["profiles"][0]["name"] == "lab-eth0" and result["profiles"][0]["uuid"] == uuid
        assert saved(nm, host, "lab-eth0") == "0x60"
        assert kernel_endpoints(nm, host)[nm.address(host, "eth0")] == ["backup", "subflow"]


def test_several_profiles_and_an_odd_name_over_ipv6(nm):
    args = {"profiles": [{"name": "lab-eth0", "flags": ["subflow", "backup"]},
                         {"name": ODD, "flags": ["signal", "also-without-default-route"]}]}
    result = run(nm, args)
    again = run(nm, args)
    for host in nm.hosts:
        assert result[host]["changed"] is True and again[host]["changed"] is False
        assert [p["name"] for p in result[host]["profiles"]] == ["lab-eth0", ODD]
        assert saved(nm, host, ODD) == "0x18"
        endpoints = kernel_endpoints(nm, host)
        assert endpoints[ODD_ADDRESS] == ["signal"]
        assert endpoints[nm.address(host, "eth0")] == ["backup", "subflow"]
        assert endpoints[nm.address(host, "eth1")] == ["subflow"]  # not asked for: untouched
        assert {"profile": ODD, "device": "mpt0", "address": ODD_ADDRESS, "flags": ["signal"],
                "dev": "mpt0"}.items() <= [e for e in result[host]["endpoints"]
                                           if e["address"] == ODD_ADDRESS][0].items()
        assert "warnings" not in result[host]


# --- check mode and diff -----------------------------------------------------------------

def test_check_mode_changes_nothing_and_shows_the_diff(nm):
    before = snapshot(nm)
    result = run(nm, {"profiles": [{"name": "lab-eth1", "flags": ["signal", "subflow"]},
                                   {"name": SPARE, "flags": ["backup"]}]}, check=True)
    assert snapshot(nm) == before
    for host in nm.hosts:
        assert result[host]["changed"] is True
        assert result[host]["diff"] == {
            "before": {"lab-eth1": [], "lab-eth1 on eth1": [], SPARE: []},
            "after": {"lab-eth1": ["signal", "subflow"], "lab-eth1 on eth1": ["signal", "subflow"],
                      SPARE: ["backup"]},
        }
        eth1, spare = result[host]["profiles"]
        assert eth1["applied"] == "reapply" and spare["applied"] == "not-active"
        assert eth1["flags_after"] == ["signal", "subflow"]
        assert [e["flags"] for e in result[host]["endpoints"]] == [["subflow"]]  # as found


def test_check_mode_with_nothing_to_do(nm):
    result = run(nm, {"name": "lab-eth1", "flags": []}, check=True)
    for host in nm.hosts:
        assert result[host]["changed"] is False
        assert result[host]["diff"]["before"] == result[host]["diff"]["after"]


# --- apply modes -------------------------------------------------------------------------

def _watch_addresses(lab, host):
    lab.exec(host, "sh", "-c", "rm -f /tmp/mon.txt; (echo $$ > /tmp/mon.pid; "
             "exec timeout 60 ip monitor address route > /tmp/mon.txt 2>&1) & sleep 0.5")


def _stop_watching(lab, host):
    time.sleep(0.5)
    lab.exec(host, "sh", "-c", "kill $(cat /tmp/mon.pid)", check=False)
    return lab.exec(host, "cat", "/tmp/mon.txt").stdout


@pytest.mark.parametrize("mode, disruptive", [("reapply", False), ("reactivate", True)])
def test_apply_modes_and_what_they_disrupt(nm, mode, disruptive):
    for host in nm.hosts:
        _watch_addresses(nm, host)
    result = run(nm, {"name": "lab-eth1", "flags": ["signal", "subflow"], "apply": mode})
    for host in nm.hosts:
        events = _stop_watching(nm, host)
        eth1 = nm.address(host, "eth1")
        assert result[host]["changed"] is True
        assert result[host]["profiles"][0]["applied"] == mode
        assert kernel_endpoints(nm, host)[eth1] == ["signal", "subflow"]
        # reapply: not a single address or route event; reactivate: the address went away.
        assert ("Deleted" in events and eth1 in events) is disruptive, (host, mode, events)
        if not disruptive:
            assert events.strip() == "", (host, events)


def test_apply_none_saves_then_reapply_catches_up(nm):
    saved_only = run(nm, {"name": "lab-eth1", "flags": ["signal", "subflow"], "apply": "none"})
    for host in nm.hosts:
        eth1 = nm.address(host, "eth1")
        assert saved_only[host]["changed"] is True
        assert saved(nm, host, "lab-eth1") == "0x30"
        assert kernel_endpoints(nm, host)[eth1] == ["subflow"]  # the device still runs 0
        profile, = saved_only[host]["profiles"]
        assert profile["applied"] == "none" and profile["running"] == {"eth1": []}
        assert saved_only[host]["diff"]["after"]["lab-eth1 on eth1"] == []
    again_none = run(nm, {"name": "lab-eth1", "flags": ["signal", "subflow"], "apply": "none"})
    catch_up = run(nm, {"name": "lab-eth1", "flags": ["signal", "subflow"]})
    settled = run(nm, {"name": "lab-eth1", "flags": ["signal", "subflow"]})
    for host in nm.hosts:
        assert again_none[host]["changed"] is False
        assert catch_up[host]["changed"] is True, catch_up[host]
        assert catch_up[host]["diff"]["before"] == {"lab-eth1": ["signal", "subflow"], "lab-eth1 on eth1": []}
        assert kernel_endpoints(nm, host)[nm.address(host, "eth1")] == ["signal", "subflow"]
        assert settled[host]["changed"] is False


def test_inactive_profile_is_saved_not_activated(nm):
    result = run(nm, {"name": SPARE, "flags": ["signal"]})
    for host in nm.hosts:
        assert result[host]["changed"] is True
        assert result[host]["profiles"][0]["applied"] == "not-active"
        assert result[host]["endpoints"] == []
        assert saved(nm, host, SPARE) == "0x10"
        assert SPARE not in nm.exec(host, "nmcli", "-g", "NAME", "connection", "show", "--active").stdout


def test_empty_list_means_the_networkmanager_conf_default(nm):
    """With `connection.mptcp-flags=0x12` (enabled,signal) in NetworkManager.conf, a profile
    at 0 gets signal endpoints; the module reads that default, so its check after applying
    expects `signal` and warns about nothing (it would expect subflow without it)."""
    conf = "/etc/NetworkManager/conf.d/60-mptcp-test.conf"
    run(nm, {"name": "lab-eth1", "flags": ["backup"]})
    try:
        for host in nm.hosts:
            nm.exec(host, "python3", "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])",
                    conf, "[connection-mptcp-test]\nconnection.mptcp-flags=0x12\n")
            nm.exec(host, "nmcli", "general", "reload", "conf")
        result = run(nm, {"name": "lab-eth1", "flags": []})
        seen = dict((host, kernel_endpoints(nm, host)) for host in nm.hosts)
    finally:
        for host in nm.hosts:
            nm.exec(host, "rm", "-f", conf)
            nm.exec(host, "nmcli", "general", "reload", "conf")
            # NM 1.42 re-reads the default only when the flags it applies change (a reapply
            # without a difference keeps the old default's endpoints; 1.52 re-reads it), so
            # leave lab-eth1 at other flags for the next baseline to really change.
            nm.exec(host, "nmcli", "connection", "modify", "lab-eth1", "connection.mptcp-flags", "backup")
            nm.exec(host, "nmcli", "device", "reapply", "eth1")
    for host in nm.hosts:
        assert result[host]["changed"] is True
        assert "warnings" not in result[host], result[host]["warnings"]
        assert seen[host][nm.address(host, "eth1")] == ["signal"]


# --- flags that cannot take effect -------------------------------------------------------

def test_no_ipv6_default_route_warns_and_makes_no_endpoint(nm):
    plain = run(nm, {"name": ODD, "flags": ["subflow"]})
    for host in nm.hosts:
        assert plain[host]["changed"] is True
        warning, = plain[host]["warnings"]
        assert "no IPv6 default route" in warning and "also-without-default-route" in warning
        assert ODD_ADDRESS not in kernel_endpoints(nm, host)
    told = run(nm, {"name": ODD, "flags": ["subflow", "also-without-default-route"]})
    for host in nm.hosts:
        assert "warnings" not in told[host]
        assert kernel_endpoints(nm, host)[ODD_ADDRESS] == ["subflow"]


def test_mptcp_disabled_by_sysctl_warns(nm):
    for host in nm.hosts:
        nm.exec(host, "sysctl", "-q", "-w", "net.mptcp.enabled=0")
    plain = run(nm, {"name": "lab-eth1", "flags": ["signal"]})
    for host in nm.hosts:
        warning, = plain[host]["warnings"]
        assert "net.mptcp.enabled is 0" in warning and "also-without-sysctl" in warning
        assert nm.address(host, "eth1") not in kernel_endpoints(nm, host)
    told = run(nm, {"name": "lab-eth1", "flags": ["signal", "also-without-sysctl"]})
    for host in nm.hosts:
        assert "warnings" not in told[host]
        assert kernel_endpoints(nm, host)[nm.address(host, "eth1")] == ["signal"]


# --- bad input: one clear error, nothing touched -----------------------------------------

@pytest.mark.parametrize("args, message", [
    ({"profiles": [{"name": "lab-eth0", "flags": ["signal"]}, {"name": "lab-eth1", "flags": ["sigal"]}]},
     "value of flags must be one or more of: disabled, enabled, also-without-sysctl, "
     "also-without-default-route, signal, subflow, backup, fullmesh, laminar. Got no match for: sigal"),
    ({"profiles": [{"name": "lab-eth0", "flags": ["signal"]},
                   {"name": "lab-eth1", "flags": ["disabled", "subflow"]}]},
     "profiles[1] ('lab-eth1'): 'disabled' cannot be combined with other flags (got disabled, subflow)"),
    ({"name": "lab-eth1", "flags": ["signal", "fullmesh"]},
     "profile 'lab-eth1': 'signal' and 'fullmesh' cannot be set together"),
    ({"profiles": [{"name": "lab-eth0", "flags": ["signal"]}, {"name": "lab-eth9", "flags": []}]},
     'profile "lab-eth9" not found; the profiles are: '),
    ({"name": TWIN, "flags": ["signal"]}, 'profile name "twin" is ambiguous: 2 profiles have it'),
    ({"profiles": [{"name": "lab-eth1", "flags": ["signal"]}, {"name": "lab-eth1", "flags": []}]},
     "profile 'lab-eth1' ("),
    ({"name": "lab-eth1", "flags": ["signal"], "profiles": [{"name": "lab-eth0", "flags": []}]},
     "parameters are mutually exclusive: name|profiles"),
    ({"name": "lab-eth1"}, "parameters are required together: name, flags"),
    ({"name": "lab-eth1", "flags": ["signal"], "apply": "restart"},
     "value of apply must be one of: none, reapply, reactivate, got: restart"),
])
def test_bad_input_fails_clearly_and_touches_nothing(nm, args, message):
    before = snapshot(nm)
    result = run(nm, args)
    assert snapshot(nm) == before
    for host in nm.hosts:
        assert result[host].get("failed") is True, (host, result[host])
        assert message in result[host]["msg"], (host, result[host]["msg"])


def test_missing_profile_error_lists_every_profile(nm):
    result = run(nm, {"name": "nope", "flags": []})
    for host in nm.hosts:
        msg = result[host]["msg"]
        for name in ("lab-eth0", "lab-eth1", "twin", "spare uplink", "lo"):
            assert '"%s"' % name in msg, msg
        assert json.dumps(ODD, ensure_ascii=False) in msg


def test_networkmanager_older_than_1_40_is_refused(nm):
    wrapper = "#!/bin/sh\n/usr/bin/nmcli \"$@\" | sed -e 's/1\\.[45][0-9]\\.[0-9]*/1.38.2/'\n"
    before = snapshot(nm)
    try:
        for host in nm.hosts:
            nm.exec(host, "python3", "-c", "import os,sys; open(sys.argv[1],'w').write(sys.argv[2]); "
                    "os.chmod(sys.argv[1], 0o755)", FAKE_OLD_NMCLI, wrapper)
            assert "1.38.2" in nm.exec(host, "sh", "-c", "nmcli --version").stdout
        result = run(nm, {"name": "lab-eth1", "flags": ["signal"]})
    finally:
        for host in nm.hosts:
            nm.exec(host, "rm", "-f", FAKE_OLD_NMCLI)
    assert snapshot(nm) == before
    for host in nm.hosts:
        assert result[host]["failed"] is True
        assert result[host]["msg"] == ("NetworkManager (the daemon) is 1.38.2; connection.mptcp-flags "
                                       "needs NetworkManager 1.40 or later")


def test_networkmanager_stopped_is_a_clear_error(nm):
    before = snapshot(nm)
    try:
        for host in nm.hosts:
            nm.exec(host, "systemctl", "stop", "NetworkManager")
        result = run(nm, {"name": "lab-eth1", "flags": ["signal"]})
        stopped = dict((host, kernel_endpoints(nm, host)) for host in nm.hosts)
    finally:
        for host in nm.hosts:
            nm.exec(host, "systemctl", "start", "NetworkManager")
        for host in nm.hosts:
            assert wait_until(lambda: nm_ready(nm, host), timeout=60)
    for host in nm.hosts:
        assert result[host]["failed"] is True
        assert result[host]["msg"].startswith(
            "NetworkManager is not running (nmcli said: Error: NetworkManager is not running.); "
            "start it (systemctl start NetworkManager)")
        assert stopped[host] == before[host]["endpoints"]
    assert dict((h, s["flags"]) for h, s in snapshot(nm).items()) == \
        dict((h, s["flags"]) for h, s in before.items())


# --- the documented examples run ---------------------------------------------------------

def test_examples_run(nm, tmp_path):
    source = open(MODULE).read()
    examples = yaml.safe_load(source.split('EXAMPLES = r"""', 1)[1].split('"""', 1)[0])
    # The examples' `become: true` goes through sudo, as the lab's user does (the inventory).
    play = [{"name": "EXAMPLES of nm_mptcp_flags", "hosts": "all", "gather_facts": False, "tasks": examples}]
    path = tmp_path / "examples.yml"
    path.write_text(yaml.safe_dump(play))
    result = nm.playbook(str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    for host in nm.hosts:
        assert "%s" % host in result.stdout
        assert saved(nm, host, "lab-eth0") == "0x0" and saved(nm, host, "lab-eth1") == "0x0"
