"""Fleet benchmark: the role mptcp against the guides' way, on N lab hosts.

    .venv/bin/python benchmarks/fleet.py                  # 8 hosts
    .venv/bin/python benchmarks/fleet.py --hosts 4 16     # each size, and the growth
    make bench                                            # 4, 16 and 64 hosts, --raise-inotify

For each size it starts a lab of its own (lab/lab.py; half Debian 12 servers, half
Debian 13 clients, on 198.18.151-153.0/24 unless told otherwise) and times, --repeat
times each, the median printed:

  first     the role on fresh hosts (a fresh lab for every repetition)
  idem      the role again, changing nothing (idempotent run)
  drift     playbooks/drift.yml, the role in check mode with its report callback
  baseline  benchmarks/baseline.yml: the guides' steps as command/shell tasks
  floor     benchmarks/floor.yml: one ping per host

Every run goes the way the lab's inventory says, as a fleet is reached: SSH as the lab
user with become (sudo), pipelining and ControlPersist (ansible.cfg), one round trip per
module call; --connection names another (containers.podman.podman: podman exec as root).

idem, drift, baseline and floor take turns, so that a change of load on the machine hits
them alike. Each run's CPU seconds are counted too, on the control node (ansible-playbook,
its workers and the ssh commands they start) and in the hosts (their cgroups): unlike
wall times, the machine's other load does not move them. Module calls and remote
commands are counted on every host at every size, from a -vvv run of each playbook on
the whole fleet (each command Ansible starts on a host is logged with the host's address;
a module call is one that runs Python on a module), and the calls that went over SSH with
become are counted too. After each `up` the lab's inotify instances (by uid) and memory
(cgroups, RSS) are recorded with the time `up` took.

64 hosts need more inotify instances than fs.inotify.max_user_instances' default of 128
(INOTIFY_PER_HOST): the run stops before starting anything and says what to raise, or,
with --raise-inotify, raises it for the run and puts it back at the end. The lab is always
torn down. Results go to benchmarks/results/fleet-TIME.json, with a markdown table for
the README. Numbers only: nothing here asserts a time; the targets of issue 20 are
printed against the numbers (benchmarks/README.md)."""

import argparse
import datetime
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The venv's tools: the repository's .venv, else the one this script runs in.
BIN = os.path.join(REPO, ".venv", "bin")
if not os.path.isdir(BIN):
    BIN = os.path.dirname(os.path.abspath(sys.executable))
LAB_PY = os.path.join(REPO, "lab", "lab.py")
VARS = os.path.join(REPO, "lab", "mptcp-vars.yml")
PLAYBOOKS = {
    "first": [os.path.join(REPO, "benchmarks", "role.yml")],
    "idem": [os.path.join(REPO, "benchmarks", "role.yml")],
    "drift": ["-e", "@" + VARS, os.path.join(REPO, "playbooks", "drift.yml")],
    "baseline": [os.path.join(REPO, "benchmarks", "baseline.yml")],
    "floor": [os.path.join(REPO, "benchmarks", "floor.yml")],
}
TAKING_TURNS = ("idem", "drift", "baseline", "floor")
# RFC 2544 subnets of the benchmark's own: clear of the demo lab, the tests' (tests/ee takes
# 198.18.130-132) and the molecule scenarios'.
DEFAULT_SUBNETS = ["198.18.151.0/24", "198.18.152.0/24", "198.18.153.0/24"]
# A remote command: podman's `RUN [...]` or ssh's `SSH: EXEC` (whose <...> is the address).
RUN_LINE = re.compile(r"^<([^>]+)> (?:RUN \[|SSH: EXEC )")
# A module call: python run on a module file, or (pipelining) on the module sent on stdin
# (through sudo's quoting, over SSH with become).
MODULE_RUN = re.compile(r"/python[0-9.]*( \S*/AnsiballZ_\w+\.py)?['\"]*( && sleep 0|$)")
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class BenchError(Exception):
    pass


def env(**extra):
    result = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf"),
                  ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), LC_ALL="C.UTF-8",
                  ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH",
                                                          os.path.join(REPO, ".tmp", "collections")),
                  ANSIBLE_NOCOLOR="1")
    result["PATH"] = BIN + os.pathsep + result.get("PATH", "")
    result.update(extra)
    return result


def lab(name, *args):
    run = subprocess.run([sys.executable, LAB_PY, "--name", name] + list(args), capture_output=True,
                         text=True, env=env(), check=False)
    if run.returncode != 0:
        raise BenchError("lab.py %s: %s%s" % (" ".join(args), run.stdout, run.stderr))
    return run


def host_specs(name, count):
    """Half servers (Debian 12), half clients (Debian 13), alternating."""
    specs = []
    for index in range(count):
        role, distro = ("s", "debian12:mptcp_servers") if index % 2 == 0 else ("c", "debian13:mptcp_clients")
        specs.append("%s-%s%d=%s" % (name, role, index // 2 + 1, distro))
    return specs


# What a lab host holds, measured (`hosts_footprint`, inotify_by_user over the containers
# after `up`): systemd 4, NetworkManager 2 and on Debian 12 logind 1 as root - 7 (Debian
# 12) or 6 (Debian 13) against root's fs.inotify.max_user_instances, since the containers
# are rootful and their root is this machine's; D-Bus (1, as messagebus) and Debian 12's
# lingering user manager (systemd --user, 2, as uid 1000) count against those uids' own
# limits. The limit is per user, not per container, and a user namespace would not help
# (the kernel charges a namespace's instances to its owner in the parent namespace too).
# No host goes below about 6 (systemd and NetworkManager need theirs), so 128 (the default)
# holds about 18 hosts and 64 hosts need about 420: --raise-inotify raises it for the run.
INOTIFY_PER_HOST = 7
INOTIFY_LIMIT = "/proc/sys/fs/inotify/max_user_instances"
# Room left for the other users of the machine (their labs and tests) when raising.
INOTIFY_HEADROOM = 128


def inotify_by_user(cgroup_ids=None):
    """Inotify instances in use, by real uid: {uid: count}; only of processes whose cgroup
    names one of cgroup_ids (container IDs), if given."""
    counts = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            uid = os.stat("/proc/%s" % pid).st_uid
            fds = os.listdir("/proc/%s/fd" % pid)
            if cgroup_ids is not None:
                with open("/proc/%s/cgroup" % pid) as handle:
                    cgroup = handle.read()
                if not any(cid in cgroup for cid in cgroup_ids):
                    continue
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == "anon_inode:inotify":
                    counts[uid] = counts.get(uid, 0) + 1
            except OSError:
                continue
    return counts


def inotify_limit():
    with open(INOTIFY_LIMIT) as handle:
        return int(handle.read())


def inotify_needed(count):
    """The limit `count` more lab hosts need, with what is in use now and the headroom."""
    return inotify_by_user().get(os.getuid(), 0) + count * INOTIFY_PER_HOST


def check_inotify(count):
    limit, in_use, needed = inotify_limit(), inotify_by_user().get(os.getuid(), 0), count * INOTIFY_PER_HOST
    if in_use + needed > limit:
        raise BenchError(
            "%d lab hosts need about %d inotify instances (%d a host as root: systemd, NetworkManager, logind) and "
            "%d of fs.inotify.max_user_instances=%d are in use already; no lab setting brings a host below "
            "about 6. Run with --raise-inotify (raises it to %d for the run, puts %d back at the end) or "
            "raise it yourself (sysctl -w fs.inotify.max_user_instances=%d), or run fewer hosts"
            % (count, needed, INOTIFY_PER_HOST, in_use, limit, in_use + needed + INOTIFY_HEADROOM, limit,
               in_use + needed + INOTIFY_HEADROOM))


class RaisedInotify:
    """fs.inotify.max_user_instances raised for the run (--raise-inotify), put back on exit."""

    def __init__(self, largest, log):
        self.before = inotify_limit()
        self.log = log
        self.raised = max(self.before, inotify_needed(largest) + INOTIFY_HEADROOM)

    def __enter__(self):
        if self.raised > self.before:
            self.write(self.raised)
            self.log("fs.inotify.max_user_instances: %d -> %d for the run" % (self.before, self.raised))
        return self

    def __exit__(self, *_exc):
        if self.raised > self.before:
            self.write(self.before)
            self.log("fs.inotify.max_user_instances: back to %d" % self.before)

    @staticmethod
    def write(value):
        with open(INOTIFY_LIMIT, "w") as handle:
            handle.write("%d\n" % value)


def lab_up(name, count, subnets):
    """Start the lab: its inventory and the seconds `up` took."""
    check_inotify(count)
    args = ["up"]
    for spec in host_specs(name, count):
        args += ["--host", spec]
    for subnet in subnets[:2]:
        args += ["--subnet", subnet]
    started = time.monotonic()
    lab(name, *(args + ["--mgmt-subnet", subnets[2]]))
    return os.path.join(REPO, ".lab", name, "inventory.yml"), time.monotonic() - started


def container_ids(names):
    return subprocess.run(["podman", "inspect", "-f", "{{.Id}}"] + list(names), capture_output=True,
                          text=True, env=env(), check=True).stdout.split()


def hosts_footprint(names):
    """What the booted lab holds: inotify instances by uid (all hosts together) and memory
    in bytes: the containers' cgroups (page cache and shared memory included: the journal
    lives in /run) and the resident memory of their processes (RSS)."""
    ids = container_ids(names)
    usage = rss = 0
    for cid in ids:
        for base in ("/sys/fs/cgroup/memory/libpod_parent/libpod-%s" % cid,
                     "/sys/fs/cgroup/memory/machine.slice/libpod-%s.scope" % cid):
            if os.path.exists(base + "/memory.usage_in_bytes"):
                with open(base + "/memory.usage_in_bytes") as handle:
                    usage += int(handle.read())
                with open(base + "/memory.stat") as handle:
                    rss += int(re.search(r"^total_rss (\d+)", handle.read(), re.M).group(1))
                break
    inotify = inotify_by_user(ids)
    return dict(inotify=dict((str(uid), count) for uid, count in sorted(inotify.items())),
                inotify_per_host=sum(inotify.values()) / len(names),
                memory_cgroup_bytes=usage, memory_rss_bytes=rss)


def cgroup_usage_files(names):
    """For each container, the file of its cgroup's CPU time: cpuacct.usage (cgroup v1,
    nanoseconds) or cpu.stat (v2, usage_usec). Everything run in the container counts,
    the modules Ansible runs there included."""
    pids = subprocess.run(["podman", "inspect", "-f", "{{.State.Pid}}"] + list(names), capture_output=True,
                          text=True, env=env(), check=False).stdout.split()
    files = []
    for pid in pids:
        with open("/proc/%s/cgroup" % pid) as handle:
            lines = [line.strip().split(":", 2) for line in handle]
        v1 = [path for _n, controllers, path in lines if "cpuacct" in controllers.split(",")]
        if v1:
            for mount in ("/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"):
                if os.path.exists(mount + v1[0] + "/cpuacct.usage"):
                    files.append(mount + v1[0] + "/cpuacct.usage")
                    break
        else:
            files.append("/sys/fs/cgroup" + [path for _n, controllers, path in lines if controllers == ""][0]
                         + "/cpu.stat")
    return files


def hosts_cpu(files):
    """CPU seconds the containers used so far, in all."""
    total = 0.0
    for path in files:
        with open(path) as handle:
            text = handle.read()
        if path.endswith("cpuacct.usage"):
            total += int(text) / 1e9
        else:
            total += int(re.search(r"usage_usec (\d+)", text).group(1)) / 1e6
    return total


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(target, what, report_dir, *extra, cgroups=()):
    """One run on `target` (the arguments naming the hosts and how to reach them): wall
    seconds, its output, and the CPU seconds it cost on the control node (ansible-playbook,
    its workers and the podman commands they run) and in the hosts."""
    argv = [os.path.join(BIN, "ansible-playbook")] + target + list(extra) + PLAYBOOKS[what]
    extra_env = {}
    if what == "drift":
        extra_env = dict(ANSIBLE_CALLBACKS_ENABLED="mptcp.linux.drift_report", MPTCP_DRIFT_REPORT_DIR=report_dir)
    control, hosts, started = children_cpu(), hosts_cpu(cgroups), time.monotonic()
    run = subprocess.run(argv, capture_output=True, text=True, env=env(**extra_env), check=False)
    seconds = time.monotonic() - started
    cpu = dict(control=children_cpu() - control, hosts=hosts_cpu(cgroups) - hosts)
    if run.returncode != 0:
        raise BenchError("%s failed (rc=%d):\n%s%s" % (what, run.returncode, run.stdout[-4000:], run.stderr[-2000:]))
    return seconds, run.stdout, cpu


def changed_hosts(stdout):
    return sorted(host for host, changed, _u, _f in RECAP.findall(stdout) if int(changed))


def count_calls(target, what, report_dir, hosts):
    """Module calls and remote commands (ssh or podman exec: what a round trip is on this
    connection) on every host, read from a -vvv run of the whole fleet: each line where
    Ansible starts a command on a host, and of those the ones that run Python on a module
    (pipelined on stdin, or an AnsiballZ file). Also how many of the module calls went
    over SSH with become (sudo's BECOME-SUCCESS marker), to show the runs are a fleet's."""
    _seconds, stdout, _cpu = playbook(target, what, report_dir, "-vvv")
    calls = dict((host, 0) for host in hosts)
    commands = dict((host, 0) for host in hosts)
    over_ssh_become = dict((host, 0) for host in hosts)
    with open(target[1]) as handle:
        by_address = dict((hostvars.get("ansible_host", host), host)
                          for host, hostvars in json.loads(handle.read().split("\n", 1)[1])["all"]["hosts"].items())
    for line in stdout.splitlines():
        found = RUN_LINE.search(line)
        host = found and by_address.get(found.group(1), found.group(1))
        if host in commands:
            commands[host] += 1
            if MODULE_RUN.search(line):
                calls[host] += 1
                if "SSH: EXEC" in line and "BECOME-SUCCESS" in line:
                    over_ssh_become[host] += 1
    return calls, commands, over_ssh_become


def measure(size, repeat, name, subnets, connection, report_dir, log, taking_turns=TAKING_TURNS, count=True):
    result = dict(hosts=size, runs=dict((what, []) for what in PLAYBOOKS), cpu=dict((what, []) for what in PLAYBOOKS),
                  changed={}, lab_up_seconds=[], footprint=[], load=[])
    names = [spec.split("=")[0] for spec in host_specs(name, size)]
    target = cgroups = None
    for rep in range(repeat):
        lab(name, "down")
        inventory, up_seconds = lab_up(name, size, subnets)
        result["lab_up_seconds"].append(up_seconds)
        result["footprint"].append(hosts_footprint(names))
        log("%2d hosts: lab up %d/%d: %5.1f s  (%s)" % (size, rep + 1, repeat, up_seconds, footprint_text(
            result["footprint"][-1], size)))
        target = ["-i", inventory] + (["-e", "ansible_connection=" + connection] if connection else [])
        cgroups = cgroup_usage_files(names)
        seconds, _stdout, cpu = playbook(target, "first", report_dir, cgroups=cgroups)
        result["runs"]["first"].append(seconds)
        result["cpu"]["first"].append(cpu)
        log("%2d hosts: %-8s %d/%d: %5.1f s  (CPU %.1f s control node, %.1f s hosts)"
            % (size, "first", rep + 1, repeat, seconds, cpu["control"], cpu["hosts"]))
    if "baseline" in taking_turns:
        playbook(target, "baseline", report_dir)  # its own first run: mptcpize enable, a restart
    for rep in range(repeat):
        for what in taking_turns:
            seconds, stdout, cpu = playbook(target, what, report_dir, cgroups=cgroups)
            result["runs"][what].append(seconds)
            result["cpu"][what].append(cpu)
            result["load"].append(os.getloadavg()[0])
            if what in ("idem", "drift"):
                result["changed"].setdefault(what, []).append(changed_hosts(stdout))
            log("%2d hosts: %-8s %d/%d: %5.1f s  (CPU %.1f s control node, %.1f s hosts; load %.1f)"
                % (size, what, rep + 1, repeat, seconds, cpu["control"], cpu["hosts"], result["load"][-1]))
    if "drift" in taking_turns:
        with open(os.path.join(report_dir, "drift.json")) as handle:
            result["drift_summary"] = json.load(handle)["summary"]
    result["calls"], result["commands"], result["over_ssh_become"] = {}, {}, {}
    for what in taking_turns if count else ():
        calls, commands, over_ssh_become = count_calls(target, what, report_dir, names)
        result["calls"][what], result["commands"][what] = calls, commands
        result["over_ssh_become"][what] = over_ssh_become
        log("%2d hosts: %-8s -vvv: module calls per host %s, remote commands per host %s, %d of %d calls "
            "over SSH with become" % (size, what, spread(calls), spread(commands), sum(over_ssh_become.values()),
                                      sum(calls.values())))
    result["median"] = dict((what, statistics.median(times)) for what, times in result["runs"].items() if times)
    result["cpu_per_host"] = dict((what, statistics.median(c["control"] + c["hosts"] for c in cpus) / size)
                                  for what, cpus in result["cpu"].items() if cpus)
    return result


def footprint_text(footprint, size):
    return "inotify %s (by uid), %.1f a host; memory %.0f MB in the cgroups, %.0f MB RSS, %.0f/%.0f MB a host" % (
        footprint["inotify"], footprint["inotify_per_host"], footprint["memory_cgroup_bytes"] / 2**20,
        footprint["memory_rss_bytes"] / 2**20, footprint["memory_cgroup_bytes"] / 2**20 / size,
        footprint["memory_rss_bytes"] / 2**20 / size)


def spread(counts):
    """Per-host counts of every host: "5" when all hosts agree, else "min-max"."""
    values = sorted(counts.values())
    if not values:
        return "-"
    return str(values[0]) if values[0] == values[-1] else "%d-%d" % (values[0], values[-1])


def table(head, rows):
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    return ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in [head] + rows]


def ratio(results, result, top, bottom):
    m = result["median"]
    return "%.2f" % (m[top] / m[bottom]) if top in m and bottom in m else "-"


# The targets: (what, ratio of medians, at most).
TARGETS = (("idem", "floor", 1.3), ("drift", "floor", 1.3), ("idem", "baseline", 0.5), ("drift", "baseline", 0.5))
GROWTH_TARGET = 1.1


def growth(results, what):
    """Per-host wall time at the largest size over that at the smallest."""
    small, large = results[0], results[-1]
    if what not in small["median"] or what not in large["median"]:
        return None
    return (large["median"][what] / large["hosts"]) / (small["median"][what] / small["hosts"])


def markdown(results, connection):
    """The table for the README and the note."""
    lines = ["| hosts | first s | idem s | drift s | guides s | ping s | idem/ping | drift/ping | idem/guides "
             "| drift/guides | module calls/host idem, drift, guides, ping | CPU s/host idem, drift, guides, ping "
             "| load |",
             "|" + "---:|" * 13]
    for r in results:
        m, c = r["median"], r["cpu_per_host"]

        def sec(what, m=m):
            return "%.1f" % m[what] if what in m else "-"

        def cpu(what, c=c):
            return "%.2f" % c[what] if what in c else "-"
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |" % (
            r["hosts"], sec("first"), sec("idem"), sec("drift"), sec("baseline"), sec("floor"),
            ratio(results, r, "idem", "floor"), ratio(results, r, "drift", "floor"),
            ratio(results, r, "idem", "baseline"), ratio(results, r, "drift", "baseline"),
            ", ".join(spread(r["calls"].get(what, {})) for what in TAKING_TURNS),
            ", ".join(cpu(what) for what in TAKING_TURNS), statistics.median(r["load"]) if r["load"] else 0))
    lines.append("")
    lines.append("Wall seconds: medians of %d runs over %s; load: the machine's 1-minute load average during "
                 "the runs (2 cores, shared); CPU: control node and hosts together, per host, which that load "
                 "does not move; %s."
                 % (len(results[0]["runs"]["first"]), connection,
                    "module calls counted on every host from a -vvv run of each playbook" if results[0]["calls"]
                    else "module calls not counted (--no-count)"))
    if len(results) > 1:
        g = ["%s x%.2f" % (what, growth(results, what)) for what in PLAYBOOKS if growth(results, what) is not None]
        lines.append("Per-host wall time at %d hosts over that at %d: %s (target: at most x%.1f)."
                     % (results[-1]["hosts"], results[0]["hosts"], ", ".join(g), GROWTH_TARGET))
    return "\n".join(lines)


def targets(results):
    lines = ["Against the issue's targets:"]
    for top, bottom, most in TARGETS:
        got = [(r["hosts"], r["median"][top] / r["median"][bottom]) for r in results
               if top in r["median"] and bottom in r["median"]]
        if got:
            lines.append("  %-5s / %-8s <= %.1f: %s" % (top, bottom, most, ", ".join(
                "%d hosts %.2f (%s)" % (hosts, value, "met" if value <= most else "missed") for hosts, value in got)))
    idem_calls = [(r["hosts"], spread(r["calls"]["idem"])) for r in results if "idem" in r["calls"]]
    if idem_calls:
        lines.append("  module calls per host on idem = 1: %s" % ", ".join(
            "%d hosts %s (%s)" % (hosts, calls, "met" if calls == "1" else "missed") for hosts, calls in idem_calls))
    if len(results) > 1:
        for what in ("idem", "drift"):
            value = growth(results, what)
            if value is not None:
                lines.append("  %s per-host time %d vs %d hosts <= %.1f: %.2f (%s)" % (
                    what, results[-1]["hosts"], results[0]["hosts"], GROWTH_TARGET, value,
                    "met" if value <= GROWTH_TARGET else "missed"))
    return "\n".join(lines)


def report(results):
    lines = ["Wall seconds, the median of the runs (the load of the machine moves these):"]
    rows = []
    for r in results:
        m = r["median"]
        rows.append([str(r["hosts"])] + ["%.1f" % m[what] if what in m else "-" for what in PLAYBOOKS] + [
            ratio(results, r, "idem", "floor"), ratio(results, r, "drift", "floor"),
            ratio(results, r, "idem", "baseline"), ratio(results, r, "drift", "baseline"),
            "%.2f" % (m["idem"] / r["hosts"]) if "idem" in m else "-"])
    lines += table(("hosts", "first", "idem", "drift", "baseline", "floor", "idem/floor", "drift/floor",
                    "idem/base", "drift/base", "idem s/host"), rows)
    lines.append("Per host, on every host (min-max where they differ): module calls and remote commands; CPU "
                 "seconds, control node and host together (the load of the machine does not move these):")
    rows = []
    for r in results:
        c = r["cpu_per_host"]
        rows.append([str(r["hosts"])] + [spread(r["calls"].get(what, {})) for what in TAKING_TURNS]
                    + [spread(r["commands"].get(what, {})) for what in ("idem", "baseline")]
                    + ["%.2f" % c[what] if what in c else "-" for what in PLAYBOOKS])
    lines += table(("hosts", "calls idem", "drift", "base", "floor", "commands idem", "base", "CPU first", "idem",
                    "drift", "base", "floor"), rows)
    for r in results:
        idem_changed = [hosts for hosts in r["changed"].get("idem", []) if hosts]
        summary = r.get("drift_summary", {})
        lines.append("%d hosts: idempotent runs that changed a host: %d; drift check: %s in sync, %s drifted; "
                     "lab up %.0f s (median); %s" % (
                         r["hosts"], len(idem_changed), summary.get("in_sync", "-"), summary.get("drifted", "-"),
                         statistics.median(r["lab_up_seconds"]), footprint_text(r["footprint"][0], r["hosts"])))
    if len(results) > 1:
        small, large = results[0], results[-1]
        lines.append("Per host from %d to %d hosts (x1.00: no growth), wall and CPU seconds:"
                     % (small["hosts"], large["hosts"]))
        for what in PLAYBOOKS:
            if what not in small["median"] or what not in large["median"]:
                continue
            before, after = small["median"][what] / small["hosts"], large["median"][what] / large["hosts"]
            cpu_before, cpu_after = small["cpu_per_host"][what], large["cpu_per_host"][what]
            lines.append("  %-8s wall %.2f -> %.2f s: x%.2f   CPU %.2f -> %.2f s: x%.2f" % (
                what, before, after, after / before, cpu_before, cpu_after, cpu_after / cpu_before))
    lines.append(targets(results))
    return "\n".join(lines)


def main(argv=None):
    global BIN  # pylint: disable=global-statement
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[8], help="fleet sizes (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--name", default="bench-fleet", help="the lab's name")
    parser.add_argument("--connection", default="",
                        help="a connection plugin instead of the inventory's (SSH with become and pipelining), "
                             "e.g. containers.podman.podman (podman exec as root)")
    parser.add_argument("--subnet", action="append", dest="subnets",
                        help="the lab's three subnets: eth0's, eth1's, the management network's "
                             "(default %s)" % " ".join(DEFAULT_SUBNETS))
    parser.add_argument("--raise-inotify", action="store_true",
                        help="raise fs.inotify.max_user_instances for the run where the largest fleet needs it "
                             "(about %d a host) and put the old value back at the end" % INOTIFY_PER_HOST)
    parser.add_argument("--runs", nargs="+", choices=TAKING_TURNS, default=list(TAKING_TURNS),
                        help="what to time after the first converge (default: all)")
    parser.add_argument("--ansible-bin", default=BIN,
                        help="the directory of ansible-playbook (default: the repository's venv), e.g. a venv "
                             "with Mitogen (with ANSIBLE_STRATEGY=mitogen_linear in the environment)")
    parser.add_argument("--no-count", action="store_true",
                        help="skip the -vvv runs that count module calls (Mitogen logs no SSH command per call)")
    args = parser.parse_args(argv)
    BIN = args.ansible_bin
    subnets = args.subnets or DEFAULT_SUBNETS
    if any(size < 2 or size > 100 for size in args.hosts) or args.repeat < 1:
        parser.error("sizes from 2 to 100 hosts, --repeat 1 or more")

    def stop(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)

    def log(message):
        print(message, flush=True)

    results = []
    report_dir = tempfile.mkdtemp(prefix="bench-drift-")
    started = time.monotonic()
    failure = None
    connection = args.connection or "SSH with become, pipelining and ControlPersist (the lab's inventory)"
    if os.environ.get("ANSIBLE_STRATEGY"):
        connection += ", strategy %s" % os.environ["ANSIBLE_STRATEGY"]
    log("%s; load average %s; fs.inotify.max_user_instances %d" % (
        connection, " ".join("%.1f" % load for load in os.getloadavg()), inotify_limit()))
    raised = RaisedInotify(max(args.hosts), log) if args.raise_inotify else None
    try:
        if raised:
            raised.__enter__()
        check_inotify(max(args.hosts))  # before any lab starts: fail at once, not after the small sizes
        for size in sorted(args.hosts):
            results.append(measure(size, args.repeat, args.name, subnets, args.connection, report_dir, log,
                                   [what for what in TAKING_TURNS if what in args.runs], not args.no_count))
    except (BenchError, OSError, subprocess.SubprocessError) as error:
        # A lab taken down under the benchmark (lab.py down-all) shows as a missing file.
        failure = "benchmark failed: %s" % error
    finally:
        try:
            lab(args.name, "down")
        finally:
            if raised:
                raised.__exit__()
    if failure:
        print(failure, file=sys.stderr)
        if not results:
            return 1
    text = "Connection: %s\n%s" % (connection, report(results))
    md = markdown(results, connection)
    print("\n" + text)
    print("\nMarkdown (README, note):\n\n" + md + "\n")
    print("(%.0f s in all, load average now %s)" % (time.monotonic() - started, " ".join(
        "%.1f" % load for load in os.getloadavg())))
    out_dir = os.path.join(REPO, "benchmarks", "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "fleet-%s.json" % datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as handle:
        json.dump(dict(results=results, table=text, markdown=md, connection=connection,
                       ansible_bin=BIN, seconds=time.monotonic() - started), handle, indent=2)
    print("results: %s" % path)
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
