#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel XFRM <-> espx interop on the second VM kernel, Debian 13's backports 6.17
# (scripts/vmtest.sh -k 6.17): tests/vm/interop.sh with four of its seven scenarios (IPv4
# tunnel, IPv6 transport, ESN across 2^32, NAT-T) and 256 KiB transfers, to stay within
# CI's time; test_vm_interop.sh runs all seven on 6.12. Skips only where no 6.17 kernel
# package can be had (vmtest.sh "unavailable").
# Env: ESPX_VM_617_TIMEOUT (default 600 s).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
export ESPX_VM_KERNEL=6.17
vm_suite vm-interop-6.17 "${ESPX_VM_617_TIMEOUT:-600}" \
	env ESPX_VM_XFER_BYTES=262144 tests/vm/interop.sh \
	v4-tunnel-aes128 v6-transport-aes128 v4-tunnel-esn v4-tunnel-natt
