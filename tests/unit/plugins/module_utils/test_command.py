"""The one command runner: every module's commands run in the best parseable locale, as
text or, for output that is not text, as bytes."""

from ansible_collections.mptcp.linux.plugins.module_utils.command import command_runner


class Module:
    """What command_runner needs of AnsibleModule; `locale -a` lists a German locale so
    that a runner which took the first one would be seen."""

    def __init__(self):
        self.calls = []

    def get_bin_path(self, name, *_args, **_kwargs):
        return "/usr/bin/" + name

    def debug(self, _message):
        pass

    def run_command(self, argv, environ_update=None, **kwargs):
        self.calls.append((argv, environ_update, kwargs))
        if argv == ["/usr/bin/locale", "-a"]:
            return 0, "C\nC.utf8\nde_DE.utf8\nPOSIX\n", ""
        return 0, "", ""


LOCALE = {"LANGUAGE": "C.utf8", "LC_ALL": "C.utf8", "LC_MESSAGES": "C.utf8"}


def test_the_runner_forces_a_parseable_locale():
    module = Module()
    command_runner(module)(["/usr/sbin/ip", "mptcp", "limits", "show"])
    assert module.calls[-1] == (["/usr/sbin/ip", "mptcp", "limits", "show"], LOCALE, {})


def test_the_binary_runner_asks_for_bytes_in_the_same_locale():
    module = Module()
    command_runner(module, binary=True)(["/usr/sbin/ip", "route", "save"])
    assert module.calls[-1] == (["/usr/sbin/ip", "route", "save"], LOCALE, {"encoding": None})
