#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `espx daemon` against kernel XFRM on the second VM kernel, Debian 13's backports 6.17
# (scripts/vmtest.sh -k 6.17): the whole of tests/vm/daemon.sh, as test_vm_daemon.sh runs it
# on 6.12 (one TCG thread: see there). Skips only where no 6.17 kernel package can be had.
# Env: ESPX_VM_DAEMON_TIMEOUT (default 900 s, as test_vm_daemon.sh).
cd "$(dirname "$0")/.." || exit 1
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
export ESPX_VM_KERNEL=6.17
. tests/lib/vm_suite.sh
vm_suite vm-daemon-6.17 "${ESPX_VM_DAEMON_TIMEOUT:-900}" tests/vm/daemon.sh
