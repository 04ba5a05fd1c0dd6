# -*- coding: utf-8 -*-
# Copyright: mptcp.linux contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stands in for the pip bootstrap script that ansible-test downloads into its cache.

ansible-test fetches get-pip.py from a host our machines cannot reach. It then runs it as
`get-pip.py [pip options] PACKAGES --no-setuptools --no-wheel` inside an empty venv. This
does the same from what is reachable: Python's bundled pip (ensurepip), then PyPI for the
exact versions ansible-test asked for. The Makefile copies it to where ansible-test looks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    arguments = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + arguments))


if __name__ == "__main__":
    main()
