#!/usr/bin/env bash
# Prints the path of a venv with ansible-core VERSION (and nothing else), made on the
# first call in .venv-core/VERSION-pyX.Y on the newest Python that line admits as
# controller (tools/control-python.sh finds it: pyenv's on our machines), then reused.
# The venv is checked against the line's own CONTROLLER_PYTHON_VERSIONS. Used by
# tools/ansible-test-matrix.sh and by the kernel tests of older managed-host Pythons.
#   tools/core-venv.sh 2.16.19
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
version=$1
line=${version%.*}

# The controller Pythons of each line (ansible_test/_util/target/common/constants.py):
# the oldest and newest minor version of Python 3.
case "$line" in
    2.14 | 2.15) range="9 11" ;;
    2.16 | 2.17) range="10 12" ;;
    2.18 | 2.19) range="11 13" ;;
    2.20 | 2.21 | 2.22) range="12 14" ;;
    *) echo "core-venv: no controller Pythons known for ansible-core $line: add them to $0" >&2; exit 1 ;;
esac
# shellcheck disable=SC2086 # two numbers
python=$(PYTHON='' "$repo/tools/control-python.sh" $range) || {
    echo "core-venv: ansible-core $version needs a Python 3.${range% *} to 3.${range#* } on the control node" >&2; exit 1; }
py=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=$repo/.venv-core/$version-py$py
if [ ! -x "$venv/bin/ansible" ]; then
    echo "core-venv: making $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$version" >&2
fi
constants=$(echo "$venv"/lib/python3*/site-packages/ansible_test/_util/target/common/constants.py)
if ! grep -q "'$py'" "$constants"; then
    echo "core-venv: Python $py is not among ansible-core $version's CONTROLLER_PYTHON_VERSIONS ($constants)" >&2
    exit 1
fi
echo "$venv"
