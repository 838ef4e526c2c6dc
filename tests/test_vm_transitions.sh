#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 11: one steady flow through every transition (attach, detach, partial detach,
# unload, daemon SIGTERM, kill -9, restart, state del + resync, rekey), no (SPI, seq)
# twice and no plaintext on the wire: tests/vm/transitions.sh in the 6.12 VM.
# Env: ESPX_VM_TRANSITIONS_TIMEOUT (default 420 s).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
vm_suite vm-transitions "${ESPX_VM_TRANSITIONS_TIMEOUT:-420}" tests/vm/transitions.sh
