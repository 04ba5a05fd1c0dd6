#!/usr/bin/env bash
# ansible-test sanity and units on each ansible-core release line we support, each from a
# venv of its own on the newest Python the line admits as controller (tools/core-venv.sh),
# on a fresh copy of the collection.
#   tools/ansible-test-matrix.sh 2.14.18 2.16.19 ...
# ansible-test wants the real path to end in ansible_collections/mptcp/linux (it resolves
# symlinks), so it gets a copy of the files git tracks or would track; the copy is a git
# repository of its own, since inside ours (.tmp is ignored) ansible-test sees no file.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tree=$repo/.tmp/sanity/ansible_collections/mptcp/linux
cache=$HOME/.ansible/test/cache

rm -rf "$tree" && mkdir -p "$tree" "$cache"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -c) | tar -x -C "$tree"
(cd "$tree" && git init -q && git add -A)

failed=()
for version in "$@"; do
    start=$(date +%s)
    venv=$("$repo/tools/core-venv.sh" "$version") || { failed+=("$version"); continue; }
    py=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    made=$(( $(date +%s) - start ))
    # ansible-test bootstraps pip in its venvs with a script from a host we cannot reach:
    # it finds ours in its cache instead (tools/ansible_test_get_pip.py says how it works).
    pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',*/\1/p" \
        "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -n 1)
    install -m 0644 "$repo/tools/ansible_test_get_pip.py" "$cache/get_pip_${pip_version//./_}.py"
    result=passed
    (cd "$tree" && "$venv/bin/ansible-test" sanity --venv --python "$py" --color no) || result=FAILED
    (cd "$tree" && "$venv/bin/ansible-test" units --venv --python "$py" --color no) || result=FAILED
    echo "== ansible-core $version on Python $py: sanity and units $result in $(( $(date +%s) - start )) s (venv ${made} s)"
    [ "$result" = passed ] || failed+=("$version")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "ansible-test failed on ansible-core ${failed[*]}"
    exit 1
fi
