"""Fleet benchmark: the role mptcp against the guides' way, on N lab hosts.

    .venv/bin/python benchmarks/fleet.py                  # 8 hosts
    .venv/bin/python benchmarks/fleet.py --hosts 4 16     # each size, and the growth
    make bench                                            # 4, 8 and 16 hosts

For each size it starts a lab of its own (lab/lab.py; half Debian 12 servers, half
Debian 13 clients, on 198.18.131.0/24 and 198.18.132.0/24 unless told otherwise) and
times, --repeat times each, the median printed:

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
its workers and the podman commands they start) and in the hosts (their cgroups): unlike
wall times, the machine's other load does not move them. Module calls and remote commands per host are counted from a -vvv run of each
on one server and one client (they do not depend on the fleet's size). The lab is always
torn down. Results also go to benchmarks/results/fleet-TIME.json. Numbers only: nothing
here asserts a time."""

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


# Each lab host boots systemd, NetworkManager and D-Bus, which hold about 8 inotify
# instances between them (7.6 measured), all counted against root's
# fs.inotify.max_user_instances (128 by default): 16 hosts next to other labs exceed it and
# hosts then boot degraded or not at all.
INOTIFY_PER_HOST = 8


def inotify_in_use():
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.stat("/proc/%s" % pid).st_uid != os.getuid():
                continue
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == "anon_inode:inotify":
                    count += 1
            except OSError:
                continue
    return count


def check_inotify(count):
    with open("/proc/sys/fs/inotify/max_user_instances") as handle:
        limit = int(handle.read())
    in_use, needed = inotify_in_use(), count * INOTIFY_PER_HOST
    if in_use + needed > limit:
        raise BenchError(
            "%d lab hosts need about %d inotify instances and %d of fs.inotify.max_user_instances=%d "
            "are in use already: raise it (sysctl -w fs.inotify.max_user_instances=1024) or run "
            "fewer hosts" % (count, needed, in_use, limit))


def lab_up(name, count, subnets):
    check_inotify(count)
    args = ["up"]
    for spec in host_specs(name, count):
        args += ["--host", spec]
    for subnet in subnets[:2]:
        args += ["--subnet", subnet]
    lab(name, *(args + ["--mgmt-subnet", subnets[2]]))
    return os.path.join(REPO, ".lab", name, "inventory.yml")


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
    """Module calls and remote commands (ssh or podman exec: what a round trip is on
    this connection) per host, from a -vvv run limited to `hosts`."""
    _seconds, stdout, _cpu = playbook(target, what, report_dir, "-vvv", "--limit", ",".join(hosts))
    calls = dict((host, 0) for host in hosts)
    commands = dict((host, 0) for host in hosts)
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
    return calls, commands


def measure(size, repeat, name, subnets, connection, report_dir, log):
    result = dict(hosts=size, runs=dict((what, []) for what in PLAYBOOKS), cpu=dict((what, []) for what in PLAYBOOKS),
                  changed={})
    names = [spec.split("=")[0] for spec in host_specs(name, size)]
    target = cgroups = None
    for rep in range(repeat):
        lab(name, "down")
        target = ["-i", lab_up(name, size, subnets)] + (["-e", "ansible_connection=" + connection] if connection else [])
        cgroups = cgroup_usage_files(names)
        seconds, _stdout, cpu = playbook(target, "first", report_dir, cgroups=cgroups)
        result["runs"]["first"].append(seconds)
        result["cpu"]["first"].append(cpu)
        log("%2d hosts: %-8s %d/%d: %5.1f s  (CPU %.1f s control node, %.1f s hosts)"
            % (size, "first", rep + 1, repeat, seconds, cpu["control"], cpu["hosts"]))
    playbook(target, "baseline", report_dir)  # its own first run: mptcpize enable, a restart
    for rep in range(repeat):
        for what in TAKING_TURNS:
            seconds, stdout, cpu = playbook(target, what, report_dir, cgroups=cgroups)
            result["runs"][what].append(seconds)
            result["cpu"][what].append(cpu)
            if what in ("idem", "drift"):
                result["changed"].setdefault(what, []).append(changed_hosts(stdout))
            log("%2d hosts: %-8s %d/%d: %5.1f s  (CPU %.1f s control node, %.1f s hosts)"
                % (size, what, rep + 1, repeat, seconds, cpu["control"], cpu["hosts"]))
    with open(os.path.join(report_dir, "drift.json")) as handle:
        result["drift_summary"] = json.load(handle)["summary"]
    sample = names[:2]
    result["calls"], result["commands"] = {}, {}
    for what in TAKING_TURNS:
        calls, commands = count_calls(target, what, report_dir, sample)
        result["calls"][what], result["commands"][what] = calls, commands
    result["median"] = dict((what, statistics.median(times)) for what, times in result["runs"].items())
    result["cpu_per_host"] = dict((what, statistics.median(c["control"] + c["hosts"] for c in cpus) / size)
                                  for what, cpus in result["cpu"].items())
    return result


def table(head, rows):
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    return ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in [head] + rows]


def both(counts):
    """server/client, the two hosts counted."""
    return "/".join(str(value) for value in counts.values())


def report(results):
    lines = ["Wall seconds, the median of the runs (the load of the machine moves these):"]
    rows = []
    for r in results:
        m = r["median"]
        rows.append((str(r["hosts"]), "%.1f" % m["first"], "%.1f" % m["idem"], "%.1f" % m["drift"],
                     "%.1f" % m["baseline"], "%.1f" % m["floor"], "%.2f" % (m["idem"] / m["baseline"]),
                     "%.2f" % (m["drift"] / m["idem"]), "%.1f" % (m["idem"] / m["floor"]),
                     "%.2f" % (m["idem"] / r["hosts"])))
    lines += table(("hosts", "first", "idem", "drift", "baseline", "floor", "idem/base", "drift/idem",
                    "idem/floor", "idem s/host"), rows)
    lines.append("Per host: module calls and remote commands (server/client); CPU seconds, control node and host "
                 "together (the load of the machine does not move these):")
    rows = []
    for r in results:
        c = r["cpu_per_host"]
        rows.append((str(r["hosts"]), both(r["calls"]["idem"]), both(r["calls"]["drift"]), both(r["calls"]["baseline"]),
                     both(r["calls"]["floor"]), both(r["commands"]["idem"]), both(r["commands"]["baseline"]),
                     "%.2f" % c["first"], "%.2f" % c["idem"], "%.2f" % c["drift"], "%.2f" % c["baseline"],
                     "%.2f" % c["floor"], "%.2f" % (c["idem"] / c["baseline"])))
    lines += table(("hosts", "calls idem", "drift", "base", "floor", "commands idem", "base", "CPU first", "idem",
                    "drift", "base", "floor", "idem/base"), rows)
    for r in results:
        idem_changed = [hosts for hosts in r["changed"].get("idem", []) if hosts]
        lines.append("%d hosts: idempotent runs that changed a host: %d; drift check: %d in sync, %d drifted"
                     % (r["hosts"], len(idem_changed), r["drift_summary"]["in_sync"], r["drift_summary"]["drifted"]))
    if len(results) > 1:
        small, large = results[0], results[-1]
        lines.append("Per host from %d to %d hosts (x1.00: no growth), wall and CPU seconds:"
                     % (small["hosts"], large["hosts"]))
        for what in PLAYBOOKS:
            before, after = small["median"][what] / small["hosts"], large["median"][what] / large["hosts"]
            cpu_before, cpu_after = small["cpu_per_host"][what], large["cpu_per_host"][what]
            lines.append("  %-8s wall %.2f -> %.2f s: x%.2f   CPU %.2f -> %.2f s: x%.2f" % (
                what, before, after, after / before, cpu_before, cpu_after, cpu_after / cpu_before))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[8], help="fleet sizes (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--name", default="bench-fleet", help="the lab's name")
    parser.add_argument("--connection", default="",
                        help="a connection plugin instead of the inventory's (SSH with become and pipelining), "
                             "e.g. containers.podman.podman (podman exec as root)")
    parser.add_argument("--subnet", action="append", dest="subnets",
                        help="the lab's three subnets: eth0's, eth1's, the management network's "
                             "(default 198.18.131.0/24 198.18.132.0/24 198.18.133.0/24)")
    args = parser.parse_args(argv)
    subnets = args.subnets or ["198.18.131.0/24", "198.18.132.0/24", "198.18.133.0/24"]
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
    try:
        for size in sorted(args.hosts):
            results.append(measure(size, args.repeat, args.name, subnets, args.connection, report_dir, log))
    except (BenchError, OSError, subprocess.SubprocessError) as error:
        # A lab taken down under the benchmark (lab.py down-all) shows as a missing file.
        failure = "benchmark failed: %s" % error
    finally:
        lab(args.name, "down")
    if failure:
        print(failure, file=sys.stderr)
        if not results:
            return 1
    text = "Connection: %s\n%s" % (args.connection or "ssh, become (the lab's inventory)", report(results))
    print("\n" + text)
    print("(%.0f s in all, load average now %s)" % (time.monotonic() - started, " ".join(
        "%.1f" % load for load in os.getloadavg())))
    out_dir = os.path.join(REPO, "benchmarks", "results")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "fleet-%s.json" % datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    with open(path, "w") as handle:
        json.dump(dict(results=results, table=text), handle, indent=2)
    print("results: %s" % path)
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
