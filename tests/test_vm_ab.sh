#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The A/B tool (scripts/bench-ab.sh: kernel XFRM against espx) end to end. It needs kernel
# ESP, which the host kernel may lack, so this boots Debian's 6.12 kernel under qemu
# (scripts/vmtest.sh) and runs tests/vm/ab.sh there with tiny settings; its PASS/FAIL
# lines are ours. A functional check: TCG figures are not performance.
# SKIP when the VM cannot run here or when ESPX_VM=0.
# Env: ESPX_VM_AB_TIMEOUT (default 240 s), ESPX_VM_AB_ROUNDS (2), ESPX_VM_AB_SECONDS (1).
set -u
cd "$(dirname "$0")/.." || exit 1
N=vm-ab
if [[ ${ESPX_VM:-1} == 0 ]]; then echo "SKIP $N: ESPX_VM=0"; exit 0; fi
if [[ $(id -u) != 0 ]]; then echo "SKIP $N: needs root"; exit 0; fi
if [[ ! -x ${ESPX_BUILD:-build}/espx ]]; then echo "FAIL $N: no build/espx (run make)"; exit 1; fi
ERR=$(mktemp /tmp/espx-vm-err.XXXXXX)
trap 'rm -f "$ERR"' EXIT
scripts/vmtest.sh -t "${ESPX_VM_AB_TIMEOUT:-240}" -- \
	tests/vm/ab.sh "${ESPX_VM_AB_ROUNDS:-2}" "${ESPX_VM_AB_SECONDS:-1}" 2>"$ERR"
rc=$?
case $rc in
0 | 1) ;;
126) echo "SKIP $N: VM cannot run here: $(tail -n 1 "$ERR")"; exit 0 ;;
124) echo "FAIL $N: VM timed out (console: build/vm/console.log)"; cat "$ERR"; exit 1 ;;
125) echo "FAIL $N: VM crashed or ended without a status (console: build/vm/console.log)"; cat "$ERR"; exit 1 ;;
*) echo "FAIL $N: guest exited $rc"; cat "$ERR"; exit 1 ;;
esac
cat "$ERR" >&2
exit $rc
