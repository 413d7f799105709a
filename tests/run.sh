#!/usr/bin/env bash
# The README's test command: set up .venv with the toolkit and its test tools, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/python -m pytest "$@"
