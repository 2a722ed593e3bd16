#!/usr/bin/env bash
# Install headless Chromium and its WebDriver from Debian, for the report's browser test
# (tests/test_report_browser.py).  Idempotent: does nothing when both are present.
# Needs root (or sudo) and apt; CI calls it from .ci/run.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "setup-browser: chromium and chromedriver already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: apt-get not found; install Chromium and chromedriver with your system's package manager" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup-browser: run as root (or install sudo) to install chromium and chromium-driver" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run rather than failing on its lock.
APT_OPTS=(-o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
$SUDO apt-get install "${APT_OPTS[@]}" chromium chromium-driver fonts-dejavu-core
echo "setup-browser: installed $(chromium --version 2>/dev/null || echo chromium)"
