#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every test.
#   - tmux, for the end-to-end console test (the console is driven in a real terminal)
#   - python3 with venv, for the seeds' own clients run against `relcon sim`
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${need[*]}" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    else
        echo "please install: ${need[*]}" >&2
        exit 1
    fi
fi

cargo test --locked --all-targets "$@"
