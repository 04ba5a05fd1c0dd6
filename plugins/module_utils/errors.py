# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors the modules turn into one clear `fail_json` message."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class MptcpError(Exception):
    """Something failed on the host; the message says what and, where known, what to do.
    details: further keys of the failed result (like the backend that was used)."""

    def __init__(self, message, **details):
        super(MptcpError, self).__init__(message)
        self.details = details


class ValidationError(MptcpError):
    """An input is wrong. Raised before anything on the host is touched; the message names
    the bad value and the rule it breaks."""
