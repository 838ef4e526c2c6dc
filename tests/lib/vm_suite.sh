# SPDX-License-Identifier: GPL-2.0
# Shared by the tests/test_vm_*.sh wrappers: boot the 6.12 VM (scripts/vmtest.sh, kernel
# with ESP) and run one script of tests/vm/ in it; its PASS/FAIL lines are the test's.
# vm_suite NAME TIMEOUT CMD...   (exits with the result)
# SKIP when ESPX_VM=0, when not root, or when no VM can be set up here (vmtest.sh 126).
vm_suite() {
	local n=$1 tmo=$2 err rc
	shift 2
	if [[ ${ESPX_VM:-1} == 0 ]]; then echo "SKIP $n: ESPX_VM=0"; exit 0; fi
	if [[ $(id -u) != 0 ]]; then echo "SKIP $n: needs root"; exit 0; fi
	if [[ ! -x ${ESPX_BUILD:-build}/espx ]]; then echo "FAIL $n: no build/espx (run make)"; exit 1; fi
	err=$(mktemp /tmp/espx-vm-err.XXXXXX)
	scripts/vmtest.sh -t "$tmo" -- "$@" 2>"$err"
	rc=$?
	case $rc in
	0 | 1) cat "$err" >&2 ;;
	126) echo "SKIP $n: VM cannot run here: $(tail -n 1 "$err")"; rc=0 ;;
	124) echo "FAIL $n: VM timed out (console: build/vm/console.log)"; cat "$err"; rc=1 ;;
	125) echo "FAIL $n: VM crashed or ended without a status (console: build/vm/console.log)"; cat "$err"; rc=1 ;;
	*) echo "FAIL $n: guest exited $rc"; cat "$err"; rc=1 ;;
	esac
	rm -f "$err"
	exit $rc
}
