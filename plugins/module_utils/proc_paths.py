# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the kernel shows MPTCP under /proc: spelled here once. Relative to a root, so that
tests can point the readers at a tree of their own."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# net.mptcp.* of the caller's network namespace.
MPTCP_SYSCTL_DIR = "proc/sys/net/mptcp"
# Exists exactly when the kernel has MPTCP.
MPTCP_ENABLED = MPTCP_SYSCTL_DIR + "/enabled"


def under_root(relative, root="/"):
    return os.path.join(root, relative)
