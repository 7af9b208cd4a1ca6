#!/usr/bin/env bash
# Install the Debian packages edgec needs when they are missing: the Cortex-M
# cross-compiler, newlib and QEMU (MCU targets), the aarch64 Linux
# cross-compiler, its libc and QEMU user mode (qemu-aarch64 and the other
# Linux-class targets), CMake, and Fashion-MNIST (dataset-fashion-mnist, read by
# models/fashion/train.py). Uses sudo when not root. Safe to run repeatedly.
set -euo pipefail

packages=(gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm cmake
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user dataset-fashion-mnist)

have_all() {
    command -v arm-none-eabi-gcc >/dev/null &&
    command -v qemu-system-arm >/dev/null &&
    command -v cmake >/dev/null &&
    [ -f "$(arm-none-eabi-gcc -print-file-name=libc.a)" ] &&
    command -v aarch64-linux-gnu-gcc >/dev/null &&
    command -v qemu-aarch64 >/dev/null &&
    [ -f /usr/aarch64-linux-gnu/lib/libc.so.6 ] &&
    [ -f /usr/aarch64-linux-gnu/lib/crt1.o ] &&
    [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]
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
