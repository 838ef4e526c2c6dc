#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The espx test runner: C unit tests (build/tests/test_*), then every
# tests/test_*.py and tests/test_*.sh. Tests report one line per check:
#   PASS name | FAIL name: why | SKIP name: why
# The runner shows a test's other output only when it fails, and ends with
#   N passed, N failed[, N skipped]
# Usage: tests/run.sh [-v] [PATTERN...]   (PATTERN: substring of test file names)
set -u
cd "$(dirname "$0")/.."
BUILD=${ESPX_BUILD:-build}
PY=/usr/bin/python3	# Debian's python: sees python3-scapy, python3-cryptography
VERBOSE=0
[[ ${1:-} == -v ]] && { VERBOSE=1; shift; }
PATTERNS=("$@")

pass=0 fail=0 skip=0
LOG=$(mktemp -d /tmp/espx-test.XXXXXX)
trap 'rm -rf "$LOG"' EXIT

wanted() {
	local p
	((${#PATTERNS[@]} == 0)) && return 0
	for p in "${PATTERNS[@]}"; do [[ $1 == *"$p"* ]] && return 0; done
	return 1
}

# run_one NAME CMD...: run a test program and count its result lines
run_one() {
	local name=$1 out=$LOG/$1.log rc n_fail=0 n_any=0 line
	shift
	"$@" >"$out" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass=$((pass + 1)); n_any=1; echo "[${line#PASS }] PASS" ;;
		"FAIL "*) fail=$((fail + 1)); n_any=1; n_fail=1; echo "[${line#FAIL }] FAIL" ;;
		"SKIP "*) skip=$((skip + 1)); n_any=1; echo "[${line#SKIP }] SKIPPED" ;;
		esac
	done <"$out"
	if ((rc != 0 && n_fail == 0)); then
		fail=$((fail + 1)); n_fail=1
		echo "[$name] FAIL: exited $rc without reporting a failure"
	elif ((n_any == 0)); then
		fail=$((fail + 1)); n_fail=1
		echo "[$name] FAIL: reported no result"
	fi
	if ((n_fail || VERBOSE)); then
		grep -vE '^(PASS|SKIP) ' "$out" | sed "s/^/    $name| /"
	fi
}

echo "espx tests on $(uname -r)"
for t in "$BUILD"/tests/test_*; do
	[[ -x $t ]] || continue
	name=$(basename "$t")
	wanted "$name" || continue
	run_one "$name" "$t"
done

if [[ $(id -u) != 0 ]]; then
	for t in tests/test_*.py tests/test_*.sh; do
		[[ -e $t ]] || continue
		echo "[$(basename "$t")] SKIPPED: needs root (BPF programs, network namespaces)"
		skip=$((skip + 1))
	done
else
	for t in tests/test_*.py tests/test_*.sh; do
		[[ -e $t ]] || continue
		name=$(basename "$t")
		wanted "$name" || continue
		case $t in
		*.py) run_one "$name" "$PY" "$t" ;;
		*.sh) run_one "$name" bash "$t" ;;
		esac
	done
fi

summary="$pass passed, $fail failed"
((skip)) && summary+=", $skip skipped"
echo "$summary"
((fail == 0))
