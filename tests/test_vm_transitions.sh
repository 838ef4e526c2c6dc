#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 11: one steady flow through every transition (attach, detach, partial detach,
# unload, daemon SIGTERM, kill -9, restart, state del + resync, rekey), no (SPI, seq)
# twice and no plaintext on the wire: tests/vm/transitions.sh in the 6.12 VM.
# Env: ESPX_VM_TRANSITIONS_TIMEOUT (default 600 s).
cd "$(dirname "$0")/.." || exit 1
# One TCG thread, as the daemon and strongSwan suites: every attach and detach flips the
# guest's static keys (tcx, XDP), and under thread=multi the guest died of an int3 Oops in
# __dev_queue_xmit right after such a flip (CI, 2026-12-03, after 111 s of checks).
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
. tests/lib/vm_suite.sh
vm_suite vm-transitions "${ESPX_VM_TRANSITIONS_TIMEOUT:-600}" tests/vm/transitions.sh
