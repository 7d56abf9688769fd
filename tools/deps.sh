#!/bin/sh
# Install the Debian packages dmos needs to build, boot and test, if any are
# missing. Non-interactive; uses sudo when not run as root. curl, ab
# (apache2-utils) and wrk are the host clients of the network tests and
# benchmarks.
set -eu

PKGS="gcc make binutils libc6-dev grub-pc-bin grub-common xorriso mtools
qemu-system-x86 qemu-utils gdb libcmocka-dev python3 python3-pytest
python3-matplotlib python3-pexpect iproute2 procps newlib-source cpio dpkg-dev
curl apache2-utils wrk"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
