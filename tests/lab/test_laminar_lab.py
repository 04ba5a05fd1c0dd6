"""laminar through `ip`, both ways: a host whose iproute2 can set it and one whose cannot.

This machine's `ip` (Debian 12, iproute2 6.1) has no laminar, nor has Debian 13's (6.15):
laminar came in iproute2 6.19. So the kernel tests see only the side where `ip` lacks it
(they say so in pytest's summary). Here both run for real, on this machine's kernel:
- forky: Debian testing (iproute2 7.2) with Python, no systemd (its systemd exits at once
  as PID 1 on this machine's cgroup v1: /work/shared/docs/lab.md): tests/lab/no_systemd.py's
  image, built from Debian's archive once and reused by the hash of its recipe, here
  without NetworkManager running (it would manage the test's link);
- deb12: the lab's Debian 12 image (iproute2 6.1, python3-pyroute2).
Each is a container with a network namespace of its own (`--network none`, a veth pair
inside it): the path-manager modules run in it through the lab's connection, and
`podman exec HOST ip -j mptcp endpoint show` is the oracle. The recent `ip` also judges the
lines pm_events writes for the path manager's events (`ip mptcp monitor`)."""

import importlib.util
import json
import os
import secrets
import subprocess

import pytest

import lab_session
import no_systemd

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAMINAR = 0x20


def _lab_tools(request):
    """tests/lab/lab_session.py (its Lab, _lab and _env) and lab/lab.py, as loaded modules."""
    conftest = lab_session
    spec = importlib.util.spec_from_file_location("lab_py", os.path.join(REPO, "lab", "lab.py"))
    lab_py = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lab_py)
    return conftest, lab_py


def _podman(conftest, *argv, **kwargs):
    result = subprocess.run(["podman"] + list(argv), capture_output=True, env=conftest._env(), check=False, **kwargs)
    if result.returncode != 0:
        raise RuntimeError("podman %s failed: %s" % (" ".join(argv[:3]), result.stderr))
    return result


@pytest.fixture(scope="module")
def hosts(request):
    """A Lab (tests/lab/conftest.py) of two containers: forky and deb12."""
    conftest, lab_py = _lab_tools(request)
    name = "lam-%s" % secrets.token_hex(3)
    conftest._lab(name, "build", "debian12")
    images = {"forky": no_systemd.forky_image(lab_py.debian_mirror()), "deb12": lab_py.image_name("debian12")}
    containers = dict((role, "%s-%s" % (name, role)) for role in images)
    inventory = {"all": {
        "vars": {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3"},
        "hosts": dict((container, {"lab_addresses": {}}) for container in containers.values())}}
    state = os.path.join(REPO, ".lab", name)
    try:
        for role, image in images.items():
            # The label lets `lab.py --name NAME down` (below) remove them.
            _podman(conftest, "run", "-d", "--name", containers[role], "--label", "mptcp-lab=%s" % name,
                    "--network", "none", "--cap-add", "NET_ADMIN", image, "sleep", "infinity")
        os.makedirs(state)
        with open(os.path.join(state, "inventory.yml"), "w") as handle:
            json.dump(inventory, handle)
        lab = conftest.Lab(name, dict((containers[role], role) for role in containers))
        lab.role = containers
        for container in containers.values():
            lab.exec(container, "ip", "link", "add", "e1", "type", "veth", "peer", "name", "e1p")
            lab.exec(container, "ip", "address", "add", "198.18.250.1/24", "dev", "e1")
            lab.exec(container, "ip", "link", "set", "e1", "up")
        yield lab
    finally:
        conftest._lab(name, "down", check=False)


def endpoints(lab, host):
    """{address: (id, dev, flag bits)} from the host's own `ip -j mptcp endpoint show`."""
    found = {}
    for entry in json.loads(lab.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout or "[]"):
        names = dict(signal=0x1, subflow=0x2, backup=0x4, fullmesh=0x8, implicit=0x10, laminar=LAMINAR)
        value = sum(bit for flag, bit in names.items() if entry.get(flag) is True)
        found[entry["address"]] = (entry["id"], entry.get("dev"), value | int(entry.get("rawflags", "0"), 16))
    return found


def flush(lab, host):
    lab.exec(host, "ip", "mptcp", "endpoint", "flush")
    assert endpoints(lab, host) == {}


def one(lab, host, module, args):
    return lab.module(module, args, hosts=[host])[host]


def test_the_hosts_are_what_this_test_is_about(hosts):
    forky, deb12 = hosts.role["forky"], hosts.role["deb12"]
    assert "iproute2-7." in hosts.exec(forky, "ip", "-V").stdout
    assert "laminar" in hosts.exec(forky, "ip", "mptcp", "help", check=False).stderr
    assert "iproute2-6.1.0" in hosts.exec(deb12, "ip", "-V").stdout
    assert "laminar" not in hosts.exec(deb12, "ip", "mptcp", "help", check=False).stderr


def test_ip_that_knows_laminar_sets_changes_and_removes_it(hosts):
    host = hosts.role["forky"]
    flush(hosts, host)
    spec = {"backend": "iproute2", "limits": {"subflows": 2},
            "endpoints": [{"address": "198.18.250.1", "id": 2, "dev": "e1", "flags": ["subflow", "laminar"]}]}
    first = one(hosts, host, "mptcp_path_manager", spec)
    assert "failed" not in first, first
    assert (first["changed"], first["backend"]) == (True, "iproute2")
    assert endpoints(hosts, host) == {"198.18.250.1": (2, "e1", 0x2 | LAMINAR)}
    # ip 7.2 names laminar itself: the oracle does not rely on rawflags.
    shown = json.loads(hosts.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout)
    assert shown[0].get("laminar") is True and "rawflags" not in shown[0]
    again = one(hosts, host, "mptcp_path_manager", spec)
    assert (again["changed"], again["changes"]) == (False, [])
    # backup changes in place and laminar stays.
    backup = one(hosts, host, "mptcp_endpoint", {"backend": "iproute2", "address": "198.18.250.1",
                                                 "flags": ["subflow", "laminar", "backup"]})
    assert backup["changed"] is True and backup["changes"][0].startswith("change endpoint 198.18.250.1 id 2"), backup
    assert endpoints(hosts, host) == {"198.18.250.1": (2, "e1", 0x2 | 0x4 | LAMINAR)}
    # laminar off: delete and add again, through ip.
    off = one(hosts, host, "mptcp_endpoint", {"backend": "iproute2", "address": "198.18.250.1", "flags": ["subflow"]})
    assert off["changed"] is True and off["changes"][0].startswith("delete endpoint 198.18.250.1 id 2"), off
    assert endpoints(hosts, host) == {"198.18.250.1": (2, "e1", 0x2)}


def test_backend_auto_takes_ip_for_laminar_where_ip_knows_it(hosts):
    host = hosts.role["forky"]
    flush(hosts, host)
    result = one(hosts, host, "mptcp_path_manager", {
        "endpoints": [{"address": "198.18.250.1", "id": 3, "flags": ["signal", "laminar"]}]})
    assert "failed" not in result, result
    assert (result["changed"], result["backend"]) == (True, "iproute2")
    assert endpoints(hosts, host) == {"198.18.250.1": (3, None, 0x1 | LAMINAR)}


def test_ip_without_laminar_refuses_clearly_and_auto_falls_back_to_pyroute2(hosts):
    host = hosts.role["deb12"]
    flush(hosts, host)
    spec = {"endpoints": [{"address": "198.18.250.1", "id": 2, "dev": "e1", "flags": ["subflow", "laminar"]}]}
    refused = one(hosts, host, "mptcp_path_manager", dict(spec, backend="iproute2"))
    assert refused["failed"] is True
    assert refused["msg"] == (
        "endpoints[0].198.18.250.1 id 2 subflow laminar dev e1 needs flag laminar, which this iproute2 (ip utility, "
        "iproute2-6.1.0, libbpf 1.1.2) cannot set: use a backend that knows it (backend=pyroute2, or a newer iproute2)")
    assert endpoints(hosts, host) == {}
    auto = one(hosts, host, "mptcp_path_manager", spec)
    assert "failed" not in auto, auto
    assert (auto["changed"], auto["backend"]) == (True, "pyroute2")
    # ip 6.1 has no name for 0x20: it shows it as rawflags.
    assert endpoints(hosts, host) == {"198.18.250.1": (2, "e1", 0x2 | LAMINAR)}
    shown = json.loads(hosts.exec(host, "ip", "-j", "mptcp", "endpoint", "show").stdout)
    assert "laminar" not in shown[0] and int(shown[0]["rawflags"], 16) == LAMINAR


def test_the_event_lines_are_what_a_recent_ip_mptcp_monitor_prints(hosts):
    """pm_events.monitor_line says it prints what iproute2 6.18 and later print: forky's ip
    7.2 shows the same live events, word for word (this machine's 6.1 is compared in
    tests/kernel/test_recordings_live.py, through the differences 6.1 is known for)."""
    from ansible_collections.mptcp.linux.tests.kernel.test_recordings_live import CONNECTION_EVENTS, WATCH
    host = hosts.role["forky"]
    flush(hosts, host)  # a signal endpoint would be announced on the connection
    target = "/tmp/collection/ansible_collections/mptcp/linux/plugins"
    hosts.exec(host, "mkdir", "-p", target)
    subprocess.run(["podman", "cp", os.path.join(REPO, "plugins", "module_utils"), "%s:%s/" % (host, target)],
                   check=True, env=dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf")))
    hosts.exec(host, "ip", "link", "set", "lo", "up")
    out = hosts.exec(host, "env", "PYTHONPATH=/tmp/collection", "python3", "-c", WATCH)
    seen = json.loads(out.stdout)
    # The probe's close, then the connection's (the kernel may order the two sides' events either way).
    assert sorted(seen["types"]) == sorted(CONNECTION_EVENTS), seen
    assert seen["ip"] == seen["ours"]
