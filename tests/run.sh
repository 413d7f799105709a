#!/usr/bin/env bash
# The README's test command: system packages for the PsychoPy tests (Xvfb, xdotool, Mesa, libjack,
# Chromium for the report test) when missing, then .venv with the toolkit, PsychoPy and the test
# tools, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
SYSTEM_PACKAGES=(xvfb xauth xdotool libgl1 libgl1-mesa-dri libglx-mesa0 libglu1-mesa libegl1 libegl-mesa0
                 libjack-jackd2-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
                 libxkbcommon-x11-0 fontconfig fonts-dejavu-core chromium)
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "tests/run.sh: missing system packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
        exit 2
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[lab,test]'
export PSYCHOPYNOPACKAGES=1
.venv/bin/python -m pytest "$@"
