#!/usr/bin/env bash
# install_deps.sh — installs the Debian packages ropewalk needs, only those missing.
# Build: a C11/C++17 compiler, make, pkg-config, OpenBLAS, libsentencepiece.
# Tools: spm_encode/spm_train (sentencepiece), gnuplot for the plots.
set -euo pipefail
packages=(build-essential pkg-config libopenblas-dev libsentencepiece-dev sentencepiece gnuplot-nox)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
