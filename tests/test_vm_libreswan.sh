#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# libreswan (IKEv2) with `espx daemon` carrying its SAs, two CHILD_SA rekeys under pings:
# tests/vm/libreswan.sh in the 6.12 VM (the host kernel may lack ESP). libreswan conflicts
# with strongSwan's packages, so scripts/vm/fetch-libreswan.sh unpacks Debian's package
# into a cache instead of installing it; SKIP when apt cannot provide it.
# Env: ESPX_VM_LIBRESWAN_TIMEOUT (default 600 s).
cd "$(dirname "$0")/.." || exit 1
# One TCG thread, as the other suites that run espx daemon: attaching flips the guest's
# static keys, and under thread=multi the guest now and then ran stale code there.
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
. tests/lib/vm_suite.sh
vm_fetch lsw vm-libreswan "Debian's libreswan package" scripts/vm/fetch-libreswan.sh
vm_suite vm-libreswan "${ESPX_VM_LIBRESWAN_TIMEOUT:-600}" \
	env ESPX_LIBRESWAN_ROOT="${lsw:-}" tests/vm/libreswan.sh
