"""A distribution the role has no vars file for: the package step stops with a message
that names the distribution and what to do, instead of first_found's generic error. The
role is copied without the vars files that would match this machine, so that this
machine plays the unknown distribution; the play stops before any package is touched
(the setup task only reads facts)."""

import os
import re
import shutil
import subprocess
import sys

import yaml

from ansible_collections.mptcp.linux.tests.kernel.conftest import ANSIBLE, REPO


def test_a_distribution_without_a_vars_file_gets_a_clear_message(tmp_path):
    role = tmp_path / "mptcp"
    shutil.copytree(os.path.join(REPO, "roles", "mptcp"), str(role))
    for name in os.listdir(str(role / "vars")):
        if name not in ("main.yml", "default.yml"):
            os.unlink(str(role / "vars" / name))
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable},
             "tasks": [{"ansible.builtin.include_role": {"name": str(role), "tasks_from": "packages"}}]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_NOCOLOR="1", LC_ALL="C.UTF-8")
    run = subprocess.run([ANSIBLE + "-playbook", "-i", "localhost,", str(playbook)],
                         capture_output=True, text=True, env=env, check=False)
    out = " ".join(run.stdout.split())
    assert run.returncode == 2, out
    assert "Fail where the role does not know the distribution's package names" in out
    assert re.search(r"The role does not know the package names of \S+ [\d.]+ \(os_family \S+\)", out), out
    assert "Install those packages on the host" in out
    assert "Install iproute2, mptcpize and pyroute2" not in out  # stopped before the packages
