# SPDX-License-Identifier: GPL-2.0
# Shared by the tests/test_vm_*.sh wrappers: boot the 6.12 VM (scripts/vmtest.sh, kernel
# with ESP) and run one script of tests/vm/ in it; its PASS/FAIL lines are the test's.
# vm_suite NAME TIMEOUT CMD...   (exits with the result)
# SKIP when ESPX_VM=0, when not root, or when this machine cannot run a VM at all (vmtest.sh
# 126 with "vmtest: unavailable:": no qemu or kernel package to be had). Any other 126 (the
# project's VM setup failed, or the guest command could not be executed) is a FAIL.
. "$(dirname "${BASH_SOURCE[0]}")/espx_test.sh"
# ": <the guest kernel's first complaint>" from the console, if it made one
vm_console_says() {
	local l
	l=$(grep -m1 -E 'Kernel panic|BUG:|RIP:|Oops|soft lockup|hung_task|blocked for more than|int3' \
		build/vm/console.log 2>/dev/null | tr -d '\r')
	[[ -n $l ]] && printf ': %s' "${l:0:160}"
}
# the last PASS/FAIL line the guest wrote before it stopped answering
vm_last_check() {
	local l
	l=$(grep -E '^(PASS|FAIL) ' build/vm/output.log 2>/dev/null | tail -n 1)
	printf '%s' "${l:-none}"
}
# the console shows the TCG emulator's known fault: an int3 trap in sched_clock_cpu
vm_tcg_int3() {
	grep -q 'int3' build/vm/console.log 2>/dev/null &&
		grep -q 'sched_clock' build/vm/console.log 2>/dev/null
}
# vm_fetch VAR NAME WHAT SCRIPT...: run a fetch script of scripts/vm/ (it prints a path)
# and set VAR to its output. Its exit 3 (nothing to be had from apt here) prints SKIP NAME
# naming WHAT and exits 0; any other failure prints FAIL NAME and exits 1. Nothing is
# fetched when the suite will skip anyway (ESPX_VM=0, not root).
vm_fetch() {
	local var=$1 n=$2 what=$3 got rc
	shift 3
	[[ ${ESPX_VM:-1} != 0 && $(id -u) == 0 ]] || return 0
	got=$("$@")
	rc=$?
	if ((rc == 3)); then
		echo "SKIP $n: $what cannot be had here ($1)"
		exit 0
	elif ((rc != 0)); then
		echo "FAIL $n: $1 exited $rc"
		exit 1
	fi
	printf -v "$var" '%s' "$got"
}
vm_suite() {
	local n=$1 tmo=$2 err out rc last attempt
	shift 2
	if [[ ${ESPX_VM:-1} == 0 ]]; then skip "$n" "ESPX_VM=0"; exit 0; fi
	if [[ $(id -u) != 0 ]]; then skip "$n" "needs root"; exit 0; fi
	if [[ ! -x ${ESPX_BUILD:-build}/espx ]]; then fail "$n" "no build/espx (run make)"; exit 1; fi
	err=$(mktemp /tmp/espx-vm-err.XXXXXX)
	out=$(mktemp /tmp/espx-vm-out.XXXXXX)
	# The TCG guest kernel sometimes dies of an int3 in sched_clock_cpu (an
	# emulator fault, not espx's). vmtest.sh boots again when that happens
	# before the command starts; when it happens later, the whole suite runs
	# once more, its first output dropped (it is held back until then), and
	# that is said. Any other crash or a hang is a FAIL.
	for attempt in 1 2; do
		scripts/vmtest.sh -t "$tmo" -- "$@" >"$out" 2>"$err"
		rc=$?
		((rc == 125 && attempt == 1)) && vm_tcg_int3 || break
		echo "vm_suite: the guest kernel died of the emulator's int3 in sched_clock_cpu after $(grep -cE '^(PASS|FAIL|SKIP) ' "$out") results ($(vm_console_says | cut -c3-)); running $n once more" >&2
		cp build/vm/console.log build/vm/console-int3.log 2>/dev/null
	done
	cat "$out"
	rm -f "$out"
	case $rc in
	0 | 1) cat "$err" >&2 ;;
	126)
		last=$(tail -n 1 "$err")
		if [[ $last == "vmtest: unavailable: "* ]]; then
			skip "$n" "VM cannot run here: ${last#vmtest: unavailable: }"; rc=0
		elif grep -q '^vmtest: kernel .*, exit 126 ' "$err"; then
			fail "$n" "the guest could not execute '$*' (exit 126: a script without its run bit?)"
			cat "$err"; rc=1
		else
			fail "$n" "VM setup failed: ${last#vmtest: setup failed: }"; cat "$err"; rc=1
		fi ;;
	124) fail "$n" "VM timed out after ${tmo}s$(vm_console_says) (console: build/vm/console.log; last check reported: $(vm_last_check))"
		cat "$err"; rc=1 ;;
	125) fail "$n" "VM crashed or ended without a status$(vm_console_says) (console: build/vm/console.log; last check reported: $(vm_last_check))"
		cat "$err"; rc=1 ;;
	*) fail "$n" "guest exited $rc"; cat "$err"; rc=1 ;;
	esac
	rm -f "$err"
	exit $rc
}
