"""meta/execution-environment.yml agrees with the rest of the checkout: the control node's
pins, the collection's version, and the two files it shares with the collection's root.
Fast and without podman; `make ee` runs it before the build."""

import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
META = os.path.join(REPO, "meta")


def load(*path):
    with open(os.path.join(REPO, *path), encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def definition():
    return load("meta", "execution-environment.yml")


def test_pins_are_the_control_nodes():
    with open(os.path.join(REPO, "requirements", "control.txt"), encoding="utf-8") as stream:
        control = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", stream.read(), re.M))
    dependencies = definition()["dependencies"]
    assert dependencies["ansible_core"]["package_pip"] == "ansible-core==%s" % control["ansible-core"]
    assert re.fullmatch(r"ansible-runner==[0-9.]+", dependencies["ansible_runner"]["package_pip"])


def test_the_collection_is_the_tarball_of_this_version():
    tarball = "mptcp-linux-%s.tar.gz" % load("galaxy.yml")["version"]
    ee = definition()
    assert ee["dependencies"]["galaxy"] == {"collections": [{"name": "/build/collections/" + tarball, "type": "file"}]}
    assert ee["additional_build_files"] == [{"src": "../" + tarball, "dest": "collections"}]


def test_both_readings_of_python_and_system_name_the_roots_files():
    """ansible-builder reads them relative to this file; its introspection of an installed
    collection relative to the collection's root."""
    dependencies = definition()["dependencies"]
    for key, name in (("python", "requirements.txt"), ("system", "bindep.txt")):
        assert dependencies[key] == name
        assert os.path.realpath(os.path.join(META, name)) == os.path.join(REPO, name)
