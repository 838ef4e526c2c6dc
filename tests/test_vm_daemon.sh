#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `espx daemon` against kernel XFRM (sync, counters, expiries, handover, restart):
# tests/vm/daemon.sh in the 6.12 VM, whose kernel has ESP.
# Env: ESPX_VM_DAEMON_TIMEOUT (default 900 s: CI runs took 425 s, and 600 s once ran out
# with the suite still passing, on a slow host).
# One TCG thread (scripts/vmtest.sh, docs/testing.md): this suite flips the
# guest's static keys under traffic, where multi-threaded TCG crashed it.
cd "$(dirname "$0")/.." || exit 1
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
. tests/lib/vm_suite.sh
vm_suite vm-daemon "${ESPX_VM_DAEMON_TIMEOUT:-900}" tests/vm/daemon.sh
