# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""path_return: which subflows are the path's, when it counts as used again, and the
phases of PathReturn on a scripted sampler and clock."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.mptcp.linux.plugins.module_utils.transfer.path_return import PathReturn, open_from, used_again


def subflow(local, port, acked, state="established"):
    return {"local": local, "local_port": port, "remote": "198.18.1.10", "remote_port": 5290, "state": state,
            "bytes_acked": acked}


KEY_A = ("198.18.2.20", 40000, "198.18.1.10", 5290)
KEY_B = ("198.18.2.20", 40001, "198.18.1.10", 5290)


def test_open_from_keeps_the_open_subflows_of_the_path_only():
    paths = [subflow("198.18.1.20", 1, 5), subflow("198.18.2.20", 40000, 7), subflow("198.18.2.20", 40001, 9, "close")]
    assert open_from(paths, {"198.18.2.20"}) == {KEY_A: 7}
    assert open_from(None, {"198.18.2.20"}) == {}


@pytest.mark.parametrize("now_open, at_return, expected", [
    ({}, {}, (False, False)),
    ({KEY_B: 0}, {}, (True, True)),                 # a new subflow, even before it carried a byte
    ({KEY_B: 0}, {KEY_A: 10}, (True, True)),        # a new one beside an old one that died meanwhile
    ({KEY_A: 10}, {KEY_A: 10}, (False, False)),     # the old one, stuck
    ({KEY_A: 11}, {KEY_A: 10}, (True, False)),      # the old one, resumed
])
def test_used_again(now_open, at_return, expected):
    assert used_again(now_open, at_return) == expected


class Sampler:
    def __init__(self, script):
        self.script = script  # [paths] per sample
        self.paths = script[0]

    def sample(self, force=False):
        if len(self.script) > 1:
            self.script.pop(0)
        self.paths = self.script[0]


class Failure:
    interface = "eth1"
    local_addresses = ["198.18.2.20", None]

    def __init__(self):
        self.calls = []

    def fail(self):
        self.calls.append("fail")

    def restore(self):
        self.calls.append("restore")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 0.5
        return self.now


def test_the_path_comes_back_once_its_subflow_closed_and_a_new_one_is_timed_from_its_return():
    there, gone, again = [subflow("198.18.2.20", 40000, 7)], [], [subflow("198.18.2.20", 40001, 0)]
    sampler = Sampler([there, there, there, gone, gone, gone, again])
    failure = Failure()
    returner = PathReturn(failure, sampler, hold=30, wait=10, clock=Clock(), sleep=lambda s: None)
    returner.start()
    returner.finish(deadline=100)
    assert failure.calls == ["fail", "restore"]
    report = returner.report
    assert report["subflow_closed"] and report["rejoined"] and report["new_subflow"], report
    assert report["closed_after_seconds"] == 2.0 and report["rejoin_seconds"] == 3.0, report


def test_a_subflow_that_never_closes_is_given_back_after_hold_and_not_used_unless_it_carries_again():
    stuck = [subflow("198.18.2.20", 40000, 7)]
    sampler = Sampler([stuck])
    failure = Failure()
    returner = PathReturn(failure, sampler, hold=2, wait=3, clock=Clock(), sleep=lambda s: None)
    returner.start()
    returner.finish(deadline=100)
    assert failure.calls == ["fail", "restore"]
    assert returner.report["subflow_closed"] is False and returner.report["rejoined"] is False, returner.report


def test_nothing_is_taken_away_where_the_kernel_does_not_list_subflows():
    failure = Failure()
    returner = PathReturn(failure, Sampler([None]), hold=2, wait=3, clock=Clock(), sleep=lambda s: None)
    returner.start()
    returner.finish(deadline=100)
    assert failure.calls == [] and "MPTCP_TCPINFO" in returner.report["error"]
