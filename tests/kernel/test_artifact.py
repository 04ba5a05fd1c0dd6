"""The collection as users get it: `ansible-galaxy collection build`, installed into an
empty path, then a module and the role run from it by FQCN. Nothing the artifact needs is
missing, and nothing it should not carry is in it."""

import json
import os
import subprocess
import tarfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(REPO, ".venv", "bin")
# Development only: at the top of the tree, and caches anywhere in it.
FORBIDDEN_TOP = (".venv", ".venv-core", ".lab", ".tmp", ".git", ".ci", "tests/output", "benchmarks", "lab",
                 "molecule", "ansible.cfg", "tools", "requirements", "Makefile")
FORBIDDEN_ANYWHERE = ("__pycache__", ".pytest_cache", ".hypothesis")


def run(argv, env=None, check=True, cwd=None):
    result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd,
                            env=dict(os.environ, LC_ALL="C.UTF-8", **(env or {})))
    if check and result.returncode != 0:
        raise AssertionError("%s: rc=%d\n%s\n%s" % (argv, result.returncode, result.stdout, result.stderr))
    return result


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), REPO])
    (tarball,) = out.glob("mptcp-linux-*.tar.gz")
    return tarball


@pytest.fixture(scope="module")
def installed(artifact, tmp_path_factory):
    path = tmp_path_factory.mktemp("collections")
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(path), str(artifact)],
        env=ansible_env(path))
    assert (path / "ansible_collections" / "mptcp" / "linux" / "MANIFEST.json").is_file()
    return path


def test_artifact_carries_nothing_it_should_not(artifact):
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    bad = [n for n in names if any(n == f or n.startswith(f + "/") for f in FORBIDDEN_TOP)
           or any(part in FORBIDDEN_ANYWHERE for part in n.split("/"))]
    assert bad == []
    assert len(names) < 400, len(names)


def test_artifact_carries_what_users_need(artifact):
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
    for needed in ("MANIFEST.json", "FILES.json", "README.md", "LICENSE", "meta/runtime.yml",
                   "meta/execution-environment.yml", "requirements.txt", "bindep.txt",
                   "plugins/modules/mptcp_endpoint.py", "plugins/module_utils/pm_plan.py",
                   "plugins/filter/systemd.py", "roles/mptcp/tasks/main.yml",
                   "roles/mptcp/meta/argument_specs.yml", "playbooks/site.yml"):
        assert needed in names, needed


def ansible_env(installed):
    # Only the installed artifact: not this checkout, not the venv's site-packages copy.
    return {"ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg")}


def test_module_runs_from_the_artifact(installed, tmp_path):
    # The result as JSON through ansible-core's own tree callback (-t), which every line
    # has; only the artifact is on the collections path, so no ansible.posix.json here.
    run([os.path.join(BIN, "ansible"), "localhost", "-c", "local", "-m",
         "mptcp.linux.mptcp_info", "-a", "gather_subset=limits", "-t", str(tmp_path / "tree")],
        env=ansible_env(installed))
    facts = json.loads((tmp_path / "tree" / "localhost").read_text())["ansible_facts"]["mptcp"]
    assert facts["supported"] is True and sorted(facts["limits"]) == ["add_addr_accepted", "subflows"]
    assert str(installed) in run([os.path.join(BIN, "ansible-doc"), "--json", "mptcp.linux.mptcp_endpoint"],
                                 env=ansible_env(installed)).stdout


def test_role_runs_from_the_artifact(installed, netns, tmp_path):
    """The role by FQCN, in a namespace of the test and with its sysctl file in tmp_path, so
    that nothing of this machine's is touched."""
    playbook = tmp_path / "play.yml"
    conf = tmp_path / "90-mptcp.conf"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  roles:\n    - role: mptcp.linux.mptcp\n"
        "      mptcp_install_packages: false\n"
        "      mptcp_sysctl: {enabled: 1, add_addr_timeout: 90}\n"
        "      mptcp_sysctl_path: %s\n" % conf)
    result = run(["ip", "netns", "exec", netns.name, os.path.join(BIN, "ansible-playbook"), str(playbook)],
                 env=ansible_env(installed))
    assert "failed=0" in result.stdout
    assert "net.mptcp.add_addr_timeout = 90" in conf.read_text()
    assert netns.exec("cat", "/proc/sys/net/mptcp/add_addr_timeout").stdout.strip() == "90"


def test_execution_environment_gets_the_dependencies(installed):
    """ansible-builder reads meta/execution-environment.yml of the installed collection."""
    result = run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", str(installed)])
    assert "pyroute2" in result.stdout
    assert "iproute2 [platform:dpkg]" in result.stdout and "iproute [platform:rpm]" in result.stdout
