"""Every module row of the bad-input table (tests/data/bad_inputs.yml) but NetworkManager's,
through Ansible, against the real kernel: one playbook of all the rows, run inside a
fresh network namespace that holds some state of each kind (two links, two endpoints,
limits and a sysctl off their defaults), with /etc/sysctl.d and /etc/sysctl.conf seen
through a private mount of temporary files (what the module owns there is in the state
too). Each row must fail, naming its value, and leave the state as it was."""

import json
import os
import secrets
import subprocess
import sys

import pytest

from bad_input_table import assert_refused, load, playbook, results, row_id

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")
ROWS = load(lambda row: row.get("module") not in (None, "nm_mptcp_flags"))
OWNED = "net.mptcp.enabled = 1\n"
FOREIGN = "root:x:0:0:root:/root:/bin/bash\n"
# Mounts the temporary files over /etc (argv[1]: [[source, target]...]), then runs the rest.
IN_PRIVATE_MOUNTS = """
import json, os, subprocess, sys
for source, target in json.loads(sys.argv[1]):
    subprocess.run(["mount", "--bind", source, target], check=True)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


def prepare(name):
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")
    for link, address in (("e1", "198.18.1.1/24"), ("e2", "198.18.2.1/24")):
        ip("-n", name, "link", "add", link, "type", "veth", "peer", "name", link + "p")
        ip("-n", name, "address", "add", address, "dev", link)
        ip("-n", name, "link", "set", link, "up")
    ip("-n", name, "mptcp", "endpoint", "add", "198.18.1.1", "id", "1", "dev", "e1", "subflow")
    ip("-n", name, "mptcp", "endpoint", "add", "198.18.1.2", "id", "2", "signal")
    ip("-n", name, "mptcp", "limits", "set", "subflows", "3", "add_addr_accepted", "1")
    subprocess.run(["ip", "netns", "exec", name, sys.executable, "-c",
                    "open('/proc/sys/net/mptcp/add_addr_timeout', 'w').write('90')"], check=True)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """{row id: (result, state before, state after)}."""
    etc = tmp_path_factory.mktemp("etc")
    sysctl_d = etc / "sysctl.d"
    sysctl_d.mkdir()
    (sysctl_d / "90-mptcp.conf").write_text(OWNED)
    (sysctl_d / "passwd").write_text(FOREIGN)
    (etc / "sysctl.conf").write_text("# the distribution's\n")
    spec = {"files": ["/etc/sysctl.d/*", "/etc/sysctl.d/.*", "/etc/sysctl.conf"],
            "netns": sorted(set(row["args"]["netns"] for row in ROWS if "netns" in row["args"]))}
    path = etc / "bad_inputs.yml"
    path.write_text(playbook(ROWS, "localhost", sys.executable, spec, connection="local",
                             vars={"ansible_python_interpreter": sys.executable}), encoding="utf-8")
    name = "mptcp-test-bad-%s" % secrets.token_hex(3)
    mounts = [[str(sysctl_d), "/etc/sysctl.d"], [str(etc / "sysctl.conf"), "/etc/sysctl.conf"]]
    argv = ["ip", "netns", "exec", name, "unshare", "--mount", "--propagation", "private", "--",
            sys.executable, "-c", IN_PRIVATE_MOUNTS, json.dumps(mounts),
            os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", str(path)]
    env = dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_LOCALHOST_WARNING="0", LC_ALL="C.UTF-8")
    try:
        prepare(name)
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError("no report from the playbook:\n%s\n%s" % (proc.stdout, proc.stderr))
        yield results(report, ROWS, "localhost")
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)
    assert (sysctl_d / "90-mptcp.conf").read_text() == OWNED and (sysctl_d / "passwd").read_text() == FOREIGN


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_a_bad_input_fails_naming_its_value_and_changes_nothing(outcomes, row):
    result, before, after = outcomes[row["id"]]
    assert_refused(row, result)
    assert after == before
    first = outcomes[ROWS[0]["id"]][1]
    assert after == first
    assert first["files"]["/etc/sysctl.d/90-mptcp.conf"][3] == OWNED
    assert json.loads(first["endpoints"][1])[0]["id"] == 1 and first["sysctl"]["add_addr_timeout"] == "90\n"
