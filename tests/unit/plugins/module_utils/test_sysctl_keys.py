"""net.mptcp key names and values: what the module takes, and the message for what it does
not. The ranges are the ones a 6.18 kernel accepted when written in a network namespace."""

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.errors import ValidationError
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.keys import (
    normalise_value,
    parse_found_value,
    parse_kernel_int,
    short_name,
    validate_settings,
)
from ansible_collections.mptcp.linux.plugins.module_utils.sysctl.runtime import RuntimeSnapshot

# /proc/sys/net/mptcp of a fresh namespace on 6.18.
KERNEL_6_18 = {
    "add_addr_timeout": "120", "allow_join_initial_addr_port": "1",
    "available_path_managers": "kernel userspace", "available_schedulers": "default",
    "blackhole_timeout": "3600", "checksum_enabled": "0", "close_timeout": "60",
    "enabled": "1", "path_manager": "kernel", "pm_type": "0", "scheduler": "default",
    "stale_loss_cnt": "4", "syn_retrans_before_tcp_fallback": "2",
}
# ... and on 6.1 (Debian 12): no scheduler, path_manager, blackhole_timeout, close_timeout.
KERNEL_6_1 = dict((key, value) for key, value in KERNEL_6_18.items() if key in (
    "add_addr_timeout", "allow_join_initial_addr_port", "checksum_enabled", "enabled",
    "pm_type", "stale_loss_cnt"))


def snapshot(values=None):
    values = dict(KERNEL_6_18 if values is None else values)
    return RuntimeSnapshot(values, [key for key in values if not key.startswith("available_")])


@pytest.mark.parametrize("name", ["enabled", "net.mptcp.enabled", "net/mptcp/enabled",
                                  " enabled "])
def test_short_name_takes_short_and_full_names(name):
    assert short_name(name) == "enabled"


@pytest.mark.parametrize("name", ["", "net.ipv4.tcp_syn_retries", "mptcp.enabled",
                                  "en abled", "Enabled", 5, None])
def test_short_name_refuses_what_is_not_a_net_mptcp_key(name):
    with pytest.raises(ValidationError, match="not"):
        short_name(name)


@pytest.mark.parametrize("key, value, expected", [
    ("enabled", 1, 1), ("enabled", 0, 0), ("enabled", True, 1), ("enabled", False, 0),
    ("enabled", "1", 1), ("enabled", " 0 ", 0), ("enabled", "yes", 1), ("enabled", "No", 0),
    ("enabled", "true", 1), ("enabled", "off", 0), ("checksum_enabled", "on", 1),
    ("allow_join_initial_addr_port", 0, 0),
    ("add_addr_timeout", 60, 60), ("add_addr_timeout", "60", 60), ("add_addr_timeout", 0, 0),
    ("add_addr_timeout", 2147483, 2147483), ("close_timeout", 2147483, 2147483),
    ("blackhole_timeout", 2 ** 31 - 1, 2 ** 31 - 1), ("stale_loss_cnt", 2 ** 32 - 1, 2 ** 32 - 1),
    ("syn_retrans_before_tcp_fallback", 255, 255), ("pm_type", 1, 1), ("pm_type", "0", 0),
    ("scheduler", "default", "default"), ("scheduler", " default\n", "default"),
    ("path_manager", "userspace", "userspace"),
])
def test_values_the_kernel_takes_are_normalised(key, value, expected):
    result = normalise_value(key, value, snapshot())
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("key, value, rule", [
    ("enabled", 2, "must be 0 or 1"), ("enabled", "2", "must be 0 or 1"),
    ("enabled", -1, "must be 0 or 1"), ("enabled", "maybe", "must be 0 or 1"),
    ("enabled", 1.0, "single word or integer"), ("enabled", [1], "single word or integer"),
    ("enabled", None, "needs a value"),
    # Milliseconds where the kernel wants seconds, as scripts on the web do.
    ("add_addr_timeout", 60000000, "from 0 to 2147483 seconds"),
    ("add_addr_timeout", 2147484, "from 0 to 2147483 seconds"),
    # The kernel takes -1 for the jiffies-based timeouts; a negative timeout is never meant.
    ("add_addr_timeout", -1, "from 0 to"), ("close_timeout", "-1", "from 0 to"),
    ("add_addr_timeout", True, "an integer"), ("add_addr_timeout", "1e3", "an integer"),
    ("add_addr_timeout", "0x10", "an integer"), ("add_addr_timeout", "", "an integer"),
    ("blackhole_timeout", 2 ** 31, "from 0 to 2147483647"),
    ("stale_loss_cnt", 2 ** 32, "from 0 to 4294967295"), ("stale_loss_cnt", -1, "from 0 to"),
    ("syn_retrans_before_tcp_fallback", 256, "from 0 to 255"),
    ("pm_type", 2, "must be 0 or 1"), ("pm_type", "yes", "must be 0 or 1"),
    ("scheduler", "bogus", "one of default (available_schedulers)"),
    ("scheduler", "", "one of default"), ("scheduler", 5, "one of default"),
    ("path_manager", "kernel userspace", "one of kernel, userspace"),
    ("path_manager", "Kernel", "one of kernel, userspace"),
])
def test_values_out_of_rule_name_the_value_and_the_rule(key, value, rule):
    with pytest.raises(ValidationError) as error:
        normalise_value(key, value, snapshot())
    assert str(error.value).startswith("net.mptcp.%s" % key)
    assert rule in str(error.value)


@pytest.mark.parametrize("value, expected", [(7, 7), ("7", 7), ("-3", -3)])
def test_a_key_newer_than_the_module_keeps_the_kernels_integer_type(value, expected):
    kernel = snapshot(dict(KERNEL_6_18, future_count="5"))
    assert normalise_value("future_count", value, kernel) == expected


@pytest.mark.parametrize("value", ["seven", True, "7.5"])
def test_a_key_newer_than_the_module_refuses_a_word_for_an_integer(value):
    kernel = snapshot(dict(KERNEL_6_18, future_count="5"))
    with pytest.raises(ValidationError, match="must be an integer"):
        normalise_value("future_count", value, kernel)


@pytest.mark.parametrize("value, ok", [("fast", True), (" fast ", True), ("two words", False),
                                       ("", False), (True, False)])
def test_a_key_newer_than_the_module_takes_one_word_for_a_word(value, ok):
    kernel = snapshot(dict(KERNEL_6_18, future_word="slow"))
    if ok:
        assert normalise_value("future_word", value, kernel) == "fast"
    else:
        with pytest.raises(ValidationError, match="single word"):
            normalise_value("future_word", value, kernel)


@pytest.mark.parametrize("text, expected", [
    ("10", 10), ("010", 8), ("0x10", 16), ("0", 0), ("-1", -1), (" 4\n", 4),
    ("", None), ("abc", None), ("08", None), ("1 2", None),
])
def test_found_integers_are_read_as_the_kernel_reads_them(text, expected):
    assert parse_kernel_int(text) == expected


@pytest.mark.parametrize("key, text, expected", [
    ("enabled", "1\n", 1), ("enabled", "yes", "yes"), ("scheduler", " default\n", "default"),
    ("scheduler", "010", "010"), ("stale_loss_cnt", "010", 8), ("future", "5", 5),
    ("future", "word", "word"),
])
def test_found_values_compare_with_normalised_input(key, text, expected):
    assert parse_found_value(key, text) == expected


def test_settings_are_returned_by_short_name_with_normalised_values():
    wanted = validate_settings({"net.mptcp.enabled": "yes", "add_addr_timeout": "60",
                                "scheduler": "default"}, "present", snapshot())
    assert wanted == {"enabled": 1, "add_addr_timeout": 60, "scheduler": "default"}


def test_an_unknown_key_is_refused_with_the_keys_that_exist_and_a_guess():
    with pytest.raises(ValidationError) as error:
        validate_settings({"mptcp_enabled": 1}, "present", snapshot())
    message = str(error.value)
    assert "net.mptcp.mptcp_enabled does not exist on this kernel" in message
    assert "did you mean enabled?" in message
    assert "add_addr_timeout, allow_join_initial_addr_port, blackhole_timeout" in message
    assert "available_schedulers" not in message


def test_a_key_from_a_newer_kernel_says_which_kernel_brought_it():
    with pytest.raises(ValidationError) as error:
        validate_settings({"path_manager": "kernel"}, "present", snapshot(KERNEL_6_1))
    assert "net.mptcp.path_manager does not exist on this kernel (it came with Linux 6.15)" \
        in str(error.value)
    assert "stale_loss_cnt" in str(error.value)


@pytest.mark.parametrize("key", ["available_schedulers", "net.mptcp.available_path_managers"])
def test_read_only_keys_are_refused(key):
    with pytest.raises(ValidationError, match="is read-only"):
        validate_settings({key: "default"}, "present", snapshot())


def test_a_key_given_twice_under_two_spellings_is_refused():
    with pytest.raises(ValidationError, match="net.mptcp.enabled is given twice"):
        validate_settings({"enabled": 1, "net.mptcp.enabled": 0}, "present", snapshot())


def test_every_bad_input_is_reported_in_one_message():
    with pytest.raises(ValidationError) as error:
        validate_settings({"enabled": 2, "syn_retries": 3, "add_addr_timeout": -5},
                          "present", snapshot())
    message = str(error.value)
    assert "net.mptcp.enabled=2" in message
    assert "net.mptcp.syn_retries does not exist" in message
    assert "net.mptcp.add_addr_timeout=-5" in message


@pytest.mark.parametrize("settings", [None, ["enabled"], "enabled=1"])
def test_settings_must_be_a_dict(settings):
    with pytest.raises(ValidationError, match="settings must be a dict"):
        validate_settings(settings, "present", snapshot())


def test_present_needs_a_value():
    with pytest.raises(ValidationError, match="net.mptcp.enabled needs a value"):
        validate_settings({"enabled": None}, "present", snapshot())


def test_absent_takes_null_values_but_checks_given_ones():
    assert validate_settings({"enabled": None, "scheduler": "default"}, "absent",
                             snapshot()) == {"enabled": None, "scheduler": "default"}
    with pytest.raises(ValidationError, match="net.mptcp.enabled=7"):
        validate_settings({"enabled": 7}, "absent", snapshot())


def test_absent_may_drop_a_persisted_key_this_kernel_no_longer_has():
    assert validate_settings({"path_manager": None}, "absent", snapshot(KERNEL_6_1),
                             persisted={"path_manager": "kernel"}) == {"path_manager": None}
    with pytest.raises(ValidationError, match="does not exist on this kernel"):
        validate_settings({"path_manager": None}, "absent", snapshot(KERNEL_6_1), persisted={})


@pytest.mark.parametrize("pm_type, path_manager, ok", [
    (0, "kernel", True), (1, "userspace", True), (1, "kernel", False), (0, "userspace", False),
])
def test_pm_type_and_path_manager_must_agree(pm_type, path_manager, ok):
    settings = {"pm_type": pm_type, "path_manager": path_manager}
    if ok:
        assert validate_settings(settings, "present", snapshot()) == settings
    else:
        with pytest.raises(ValidationError, match="disagree"):
            validate_settings(settings, "present", snapshot())
