"""mptcp_info returns its data in the result (the developer guide's rule for *_info
modules), mptcp_facts returns it as facts, and mptcp_info's old form (facts by default)
keeps working until 2.0.0 with a deprecation warning. The limits are judged against
`ip mptcp limits show` in the namespace."""

import subprocess


def kernel_limits(netns):
    out = subprocess.run(["ip", "-n", netns.name, "mptcp", "limits", "show"], capture_output=True, text=True,
                         check=True).stdout.split()
    return dict((out[i], int(out[i + 1])) for i in range(0, len(out) - 1, 2))


def test_mptcp_info_returns_its_data_in_the_result(netns, module_runner):
    result = module_runner("mptcp_info", {"netns": netns.name, "gather_subset": ["limits"], "facts": False})
    assert result["mptcp"]["limits"] == kernel_limits(netns)
    assert "ansible_facts" not in result
    assert not result.get("deprecations")


def test_mptcp_facts_returns_the_same_data_as_facts(netns, module_runner):
    result = module_runner("mptcp_facts", {"netns": netns.name, "gather_subset": ["limits"]})
    assert result["ansible_facts"]["mptcp"]["limits"] == kernel_limits(netns)
    assert "mptcp" not in result and not result.get("deprecations")


def test_mptcp_info_s_old_form_still_gives_facts_and_says_it_is_deprecated(netns, module_runner):
    result = module_runner("mptcp_info", {"netns": netns.name, "gather_subset": ["limits"]})
    assert result["ansible_facts"]["mptcp"] == result["mptcp"]
    assert result["mptcp"]["limits"] == kernel_limits(netns)
    assert [d["version"] for d in result["deprecations"]] == ["2.0.0"]
    assert "mptcp.linux.mptcp_facts" in result["deprecations"][0]["msg"]
