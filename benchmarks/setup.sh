#!/usr/bin/env bash
# Tools the benchmarks compare against (Debian packages). Run as root: bash benchmarks/setup.sh
set -euo pipefail
if ! command -v samtools >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq samtools >/dev/null
fi
samtools --version | head -1
