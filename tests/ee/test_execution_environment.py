"""The execution environment (EE) as AWX uses it: built by ansible-builder from
meta/execution-environment.yml (on a Debian base image made here: tools/ee/ee.py), then
site.yml, verify.yml and drift.yml run inside it by ansible-runner with a private data
dir (project, inventory, env/ssh_key, env/extravars, env/envvars), over SSH as the lab's
unprivileged user with sudo. The hosts are judged with their own tools through podman
exec, never through the collection's report of itself. `make ee` runs this; it is not in
`make test` (the README says how long it takes)."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools", "ee")
sys.path.insert(0, TOOLS)
import ee  # noqa: E402 pylint: disable=wrong-import-position

PROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "project")
LAB_PY = os.path.join(REPO, "lab", "lab.py")
LAB_NAME = "ee-lab"
LAB_STATE = os.path.join(REPO, ".lab")
LAB_SUBNETS = ["198.18.130.0/24", "198.18.131.0/24"]
MGMT_SUBNET = "198.18.132.0/24"
# Where the jobs' own files go inside the EE: the private data dir is /runner.
DRIFT_DIR = "/runner/artifacts/drift-report"
SERVER, CLIENT = "mptcp-server", "mptcp-client"
LAB_USER = "lab"


def run(argv, check=True, **kwargs):
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "lab", "containers.conf"), LC_ALL="C.UTF-8",
               LAB_STATE_DIR=LAB_STATE)
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError("%s: rc=%d\n%s\n%s" % (argv, result.returncode, result.stdout, result.stderr))
    return result


def host(name, *argv):
    return run(["podman", "exec", name] + list(argv)).stdout


@pytest.fixture(scope="module")
def ee_image():
    # Prints the base image's and the EE's build times (pytest -s shows them).
    result = run([sys.executable, os.path.join(TOOLS, "ee.py"), "build"])
    print(result.stdout)
    return ee.ee_image_name()


@pytest.fixture(scope="module")
def ssh_lab():
    lab = [sys.executable, LAB_PY, "--name", LAB_NAME]
    try:
        run(lab + ["up", "--subnet", LAB_SUBNETS[0], "--subnet", LAB_SUBNETS[1], "--mgmt-subnet", MGMT_SUBNET])
        with open(os.path.join(LAB_STATE, LAB_NAME, "inventory.yml"), encoding="utf-8") as stream:
            inventory = yaml.safe_load(stream)
        assert inventory["all"]["vars"].get("ansible_user"), "the lab's inventory does not reach its hosts over SSH"
        yield inventory
    finally:
        run(lab + ["down"], check=False)


def ee_inventory(lab_inventory, known_hosts):
    """The lab's SSH inventory as an AWX job sees it: the key comes from the Machine
    credential (ansible-runner's env/ssh_key, loaded into an ssh-agent), become from the
    job template's Privilege Escalation (env/cmdline), the host keys from a file inside
    the job's private data dir; this machine's paths mean nothing in the EE."""
    inventory = json.loads(json.dumps(lab_inventory))
    variables = inventory["all"]["vars"]
    for name in ("ansible_ssh_private_key_file", "ansible_control_path_dir", "ansible_become"):
        variables.pop(name, None)
    variables["ansible_ssh_common_args"] = "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s" % known_hosts
    return inventory


@pytest.fixture(scope="module")
def private_data_dir(ssh_lab, tmp_path_factory):
    """ansible-runner's input directory, as AWX writes one for a job."""
    root = tmp_path_factory.mktemp("runner")
    shutil.copytree(PROJECT, root / "project")
    (root / "inventory").mkdir()
    (root / "env").mkdir()
    lab_vars = ssh_lab["all"]["vars"]
    known_hosts, = re.findall(r"UserKnownHostsFile=(\S+)", lab_vars["ansible_ssh_common_args"])
    # Beside the inventory, not in it: ansible-runner hands the whole directory to -i.
    (root / "ssh").mkdir()
    shutil.copy(known_hosts, root / "ssh" / "known_hosts")
    (root / "inventory" / "hosts.json").write_text(
        json.dumps(ee_inventory(ssh_lab, "/runner/ssh/known_hosts"), indent=2))
    shutil.copy(lab_vars["ansible_ssh_private_key_file"], root / "env" / "ssh_key")
    extravars = {}
    for name in ("mptcp-vars.yml", "verify-vars.yml"):
        with open(os.path.join(REPO, "lab", name), encoding="utf-8") as stream:
            extravars.update(yaml.safe_load(stream))
    extravars.update(site_summary_file="/runner/artifacts/summary.txt",
                     mptcp_verify_report="/runner/artifacts/verify.json")
    (root / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    # AWX: the Machine credential's user (in the inventory here) and become method sudo,
    # the job template's Privilege Escalation.
    (root / "env" / "cmdline").write_text("--become --become-method sudo")
    # AWX: the job template's Extra Environment Variables. The callback writes nothing
    # outside check mode, so it stays enabled for every job.
    # ansible-runner (and AWX) turn host key checking off unless the job's environment
    # says otherwise; an ansible.cfg cannot, the variable wins.
    (root / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_CALLBACKS_ENABLED": "mptcp.linux.drift_report", "MPTCP_DRIFT_REPORT_DIR": DRIFT_DIR,
        "ANSIBLE_HOST_KEY_CHECKING": "True"}))
    return root


def job(ee_image, private_data_dir, playbook):
    result = ee.run_job(ee_image, private_data_dir, playbook, ident=playbook.split(".")[0])
    artifacts = private_data_dir / "artifacts" / playbook.split(".")[0]
    status = (artifacts / "status").read_text().strip() if (artifacts / "status").exists() else "no status"
    assert (result.returncode, status) == (0, "successful"), "%s in the EE: rc=%d %s\n%s\n%s" % (
        playbook, result.returncode, status, result.stdout[-6000:], result.stderr[-3000:])
    return result.stdout


@pytest.fixture(scope="module")
def applied(ee_image, private_data_dir):
    return job(ee_image, private_data_dir, "site.yml")


def test_the_ee_carries_the_pinned_tools_and_the_collection(ee_image):
    def inside(*argv):
        return run(["podman", "run", "--rm", ee_image] + list(argv)).stdout

    assert inside("ansible", "--version").splitlines()[0].split()[-1].rstrip("]") == "2.21.5"
    assert inside("ansible-runner", "--version").strip() == "2.4.3"
    collections = json.loads(inside("ansible-galaxy", "collection", "list", "--format", "json"))
    assert collections == {"/usr/share/ansible/collections/ansible_collections": {
        "mptcp.linux": {"version": ee.collection_version()}}}
    # what the job reaches the hosts with, and bindep's iproute2 from the collection
    assert inside("sh", "-c", "for tool in ssh ssh-agent sshpass ip; do command -v $tool; done").split() == [
        "/usr/bin/ssh", "/usr/bin/ssh-agent", "/usr/bin/sshpass", "/usr/sbin/ip"]


def test_site_from_the_ee_configures_the_hosts(applied, ssh_lab):
    """The hosts have what lab/mptcp-vars.yml declares, read with ip, sysctl and nmcli."""
    addresses = dict((name, variables["lab_addresses"]) for name, variables in ssh_lab["all"]["hosts"].items())
    for name, flag, accepted in ((SERVER, "signal", "0"), (CLIENT, "subflow", "1")):
        endpoints = json.loads(host(name, "ip", "-j", "mptcp", "endpoint", "show"))
        assert [(e.get("dev"), sorted(k for k, v in e.items() if v is True)) for e in endpoints
                if e["address"] == addresses[name]["eth1"]] == [("eth1", [flag])], endpoints
        assert host(name, "ip", "mptcp", "limits", "show").split() == ["add_addr_accepted", accepted, "subflows", "2"]
        assert host(name, "sysctl", "-n", "net.mptcp.enabled", "net.mptcp.add_addr_timeout").split() == ["1", "60"]
        assert host(name, "cat", "/etc/sysctl.d/90-mptcp.conf").splitlines()[1:] == [
            "net.mptcp.add_addr_timeout = 60", "net.mptcp.enabled = 1"]
        assert host(name, "nmcli", "-g", "connection.mptcp-flags", "connection", "show", "lab-eth1").strip() == "0x1"
        # The job came in as the unprivileged user and became root with sudo: the host's
        # own log of sudo has Ansible's become command for that user (lab.py's check of
        # sudo at `up` runs `id`, not this).
        sudo_log = host(name, "journalctl", "-q", "--no-pager", "-o", "cat", "-t", "sudo")
        assert re.search(r"\b%s : .*USER=root ; COMMAND=.*BECOME-SUCCESS-" % LAB_USER, sudo_log), (name, sudo_log)


def mpjoin_syn_received(name):
    """MPTcpExt MPJoinSynRx from the host's /proc/net/netstat (its own network namespace)."""
    lines = [line.split() for line in host(name, "cat", "/proc/net/netstat").splitlines()
             if line.startswith("MPTcpExt:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))["MPJoinSynRx"])


def test_verify_from_the_ee_proves_mptcp_on_the_wire(applied, ee_image, private_data_dir):
    before = mpjoin_syn_received(SERVER)
    job(ee_image, private_data_dir, "verify.yml")
    # The server accepted joined subflows during the run: the second path carried data.
    assert mpjoin_syn_received(SERVER) > before
    assert (private_data_dir / "artifacts" / "verify.json").is_file()


def test_drift_from_the_ee_finds_no_drift_after_site(applied, ee_image, private_data_dir):
    job(ee_image, private_data_dir, "drift.yml")
    report = json.loads((private_data_dir / "artifacts" / "drift-report" / "drift.json").read_text())
    assert report["summary"] == {"hosts": 2, "in_sync": 2, "drifted": 0, "failed": 0, "unreachable": 0}, report
    assert (private_data_dir / "artifacts" / "drift-report" / "drift.html").is_file()
