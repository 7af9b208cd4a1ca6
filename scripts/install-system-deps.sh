#!/usr/bin/env bash
# Install the Debian packages edgec needs (cross-compiler, newlib, QEMU, CMake)
# when they are missing. Uses sudo when not root. Safe to run repeatedly.
set -euo pipefail

packages=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm cmake)

have_all() {
    command -v arm-none-eabi-gcc >/dev/null &&
    command -v qemu-system-arm >/dev/null &&
    command -v cmake >/dev/null &&
    [ -f "$(arm-none-eabi-gcc -print-file-name=libc.a)" ]
}

if have_all; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "error: need root or sudo to install ${packages[*]}" >&2; exit 2; }
    sudo="sudo"
fi
echo "installing system packages: ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
have_all || { echo "error: ${packages[*]} did not install cleanly" >&2; exit 2; }
