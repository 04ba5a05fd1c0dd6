#!/usr/bin/env bash
# Prints the path of a Python that the control node's ansible-core admits (3.12 to 3.14 for
# ansible-core 2.21), and says on stderr which one it took and why. Looked for in order:
# $PYTHON if set (then it must fit); else the newest minor version first, python3.X on
# PATH then pyenv's 3.X.*; last the system's python3. On a machine with none of them it says what is missing and how to get it.
#   tools/control-python.sh [MIN_MINOR [MAX_MINOR]]     (default 12 14: Python 3.12-3.14)
set -euo pipefail
min=${1:-12}
max=${2:-14}

# Runs the candidate (a pyenv shim on PATH exits non-zero when its version is not
# active, so a name on PATH is no proof) and checks its version and its venv module.
fits() {
    "$1" -c "import sys, venv, ensurepip; sys.exit(not ((3, $min) <= sys.version_info[:2] <= (3, $max)))" \
        >/dev/null 2>&1
}

say() { echo "control-python: $*" >&2; }

if [ -n "${PYTHON:-}" ]; then
    if fits "$PYTHON"; then
        say "using PYTHON=$PYTHON ($("$PYTHON" -V 2>&1))"
        command -v "$PYTHON"
        exit 0
    fi
    say "PYTHON=$PYTHON is not a Python 3.$min to 3.$max with venv ($("$PYTHON" -V 2>&1 || echo 'does not run'))"
    exit 1
fi

# Newest minor version first; for each, the one on PATH, then pyenv's (newest patch first).
candidates=()
pyenv_root=$( (pyenv root 2>/dev/null) || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for minor in $(seq "$max" -1 "$min"); do
    path=$(command -v "python3.$minor" 2>/dev/null) && candidates+=("$path")
    while read -r dir; do
        [ -x "$dir/bin/python3.$minor" ] && candidates+=("$dir/bin/python3.$minor")
    done < <(printf '%s\n' "$pyenv_root"/versions/3."$minor".* | sort -rV)
done
path=$(command -v python3 2>/dev/null) && candidates+=("$path")

for candidate in "${candidates[@]}"; do
    if fits "$candidate"; then
        say "using $candidate ($("$candidate" -V 2>&1))"
        echo "$candidate"
        exit 0
    fi
done

say "no Python 3.$min to 3.$max found (the control node's ansible-core needs one)."
say "  looked for: python3.$max ... python3.$min on PATH, $pyenv_root/versions/3.$min.* to 3.$max.*, python3 ($(python3 -V 2>&1 || echo none))"
say "  get one: on Debian 13 'apt-get install python3 python3-venv' (3.13);"
say "  elsewhere 'pyenv install 3.13' (https://github.com/pyenv/pyenv), or a python3.12+ package;"
say "  or name one: make PYTHON=/path/to/python3.13 ..."
exit 1
