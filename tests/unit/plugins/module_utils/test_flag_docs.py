"""The endpoint flag list is written in four documents: each must name the flags a user
may ask for (path_manager.model.USER_FLAGS), all of them, in that order."""

import ast
import os
import re

import pytest
import yaml

from ansible_collections.mptcp.linux.plugins.module_utils.path_manager.model import USER_FLAGS

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[".."] * 4))
FLAG_WORDS = r"(?:V\()?\w+\)?"


def flags_in(text):
    """'Any of V(a), V(b) and V(c)' or 'any of a, b, c' or '[a, b, c]' -> ['a', 'b', 'c']."""
    listed = re.search(r"(?:[Aa]ny of |flags: \[)((?:%s(?:, | and ))+%s)" % (FLAG_WORDS, FLAG_WORDS), text)
    assert listed, "no flag list in %r" % text
    return re.findall(r"(?:V\()?(\w+)\)?", listed.group(1).replace(" and ", ", "))


def _documentation(path):
    """The DOCUMENTATION string of a module or doc fragment, read without importing it."""
    with open(os.path.join(REPO, path)) as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "DOCUMENTATION"
                                                for target in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % path)


def endpoint_module_flags():
    doc = _documentation("plugins/modules/mptcp_endpoint.py")
    return " ".join(doc["options"]["flags"]["description"])


def endpoint_list_fragment_flags():
    options = _documentation("plugins/doc_fragments/endpoint_list.py")["options"]
    return " ".join(options["endpoints"]["suboptions"]["flags"]["description"])


def role_argument_spec_flags():
    with open(os.path.join(REPO, "roles/mptcp/meta/argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)
    return specs["argument_specs"]["main"]["options"]["mptcp_endpoints"]["options"]["flags"]["description"]


def role_defaults_flags():
    with open(os.path.join(REPO, "roles/mptcp/defaults/main.yml")) as handle:
        return next(line for line in handle if "flags: [" in line)


@pytest.mark.parametrize("read", [endpoint_module_flags, endpoint_list_fragment_flags, role_argument_spec_flags,
                                  role_defaults_flags])
def test_the_documented_endpoint_flags_are_the_code_s(read):
    assert flags_in(read()) == list(USER_FLAGS)
