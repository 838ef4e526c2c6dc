#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The espx test runner: C unit tests (build/tests/test_*), then every
# tests/test_*.py and tests/test_*.sh. Tests report one line per check:
#   PASS name | FAIL name: why | SKIP name: why
# and may declare how many such lines they will print with `PLAN n` (PLAN
# lines add up); fewer or more is a failure, so a test that stops early
# cannot pass by saying nothing, nor one that bash stopped at a syntax error,
# an unset variable under `set -u` or a bad substitution (its EXIT trap may
# exit 0; such a message in a subshell fails the test too). Each test runs under a time limit
# (ESPX_TEST_TIMEOUT, default 600 s; tests/test_vm_*: ESPX_VM_TEST_TIMEOUT,
# default 1200 s); past it the test and its process group are killed, the
# namespaces it made (espxt<pid>-*) removed, and it FAILs.
# The runner shows a test's other output only when it fails, and ends with
#   why: test_x.sh| FAIL check1: reason        (a few lines per failed test)
#   failed: test_x.sh (check1, check2); ...    (only if something failed)
#   N passed, N failed[, N skipped]
# Usage: tests/run.sh [-v] [PATTERN...]   (PATTERN: substring of test file names)
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${ESPX_BUILD:-build}
PY=/usr/bin/python3	# Debian's python: sees python3-scapy, python3-cryptography
TMO=${ESPX_TEST_TIMEOUT:-600}
VM_TMO=${ESPX_VM_TEST_TIMEOUT:-1200}
VERBOSE=0
[[ ${1:-} == -v ]] && { VERBOSE=1; shift; }
PATTERNS=("$@")

pass=0 fail=0 skip=0
failed=()	# "test (check, check)" per failed test, for the line before the summary
why=()		# the first reasons of each failed test, repeated at the end: CI shows only the tail
LOG=$(mktemp -d /tmp/espx-test.XXXXXX)
running="" stop=0
trap 'rm -rf "$LOG"' EXIT
# Ctrl-C reaches only the runner (timeout gave the test its own process group): pass it on
trap 'stop=1; [[ -n $running ]] && kill -TERM $running 2>/dev/null' INT TERM HUP

wanted() {
	local p
	((${#PATTERNS[@]} == 0)) && return 0
	for p in "${PATTERNS[@]}"; do [[ $1 == *"$p"* ]] && return 0; done
	return 1
}

# Namespaces the test libraries make are espxt<pid>-*, pid the test's own process
# (tests/lib/espx_test.sh, espx_test.py). Remove those of PID: unload espx there, end
# what still runs inside, delete. Prints their names.
reap_netns() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk -v p="espxt$1-" 'index($1, p) == 1 {print $1}'); do
		ip netns exec "$ns" "$BUILD/espx" unload >/dev/null 2>&1
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
		echo "$ns"
	done
}

# run_one NAME TIMEOUT CMD...: run a test program and count its result lines
run_one() {
	local name=$1 tmo=$2 out=$LOG/$1.log rc n_fail=0 n_res=0 plan="" line t0 pid left c
	local names=()
	shift 2
	t0=$SECONDS
	# timeout puts the test in its own process group and signals the whole group; exec
	# keeps the test's pid (its namespaces' prefix), written down first. In the background
	# so that a signal to the runner reaches the test too (through timeout).
	timeout -k 10 "$tmo" bash -c 'echo $$ >"$0"; exec "$@"' "$LOG/$name.pid" "$@" \
		</dev/null >"$out" 2>&1 &
	running=$!
	wait $running
	rc=$?
	while ((stop)) && kill -0 $running 2>/dev/null; do wait $running; done
	running=""
	pid=$(cat "$LOG/$name.pid" 2>/dev/null)
	if ((stop)); then
		[[ -n $pid ]] && reap_netns "$pid" >/dev/null
		echo "[$name] interrupted"
		exit 130
	fi
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass=$((pass + 1)); n_res=$((n_res + 1)); echo "[${line#PASS }] PASS" ;;
		"FAIL "*) fail=$((fail + 1)); n_res=$((n_res + 1)); n_fail=1
			line=${line#FAIL }; names+=("${line%%:*}"); echo "[$line] FAIL" ;;
		"SKIP "*) skip=$((skip + 1)); n_res=$((n_res + 1)); echo "[${line#SKIP }] SKIPPED" ;;
		"PLAN "*)
			if [[ $line =~ ^PLAN\ ([0-9]+)$ ]]; then plan=$((${plan:-0} + BASH_REMATCH[1]))
			else plan=bad; fi ;;
		esac
	done <"$out"
	if ((rc == 124 || rc == 137)) && ((SECONDS - t0 >= tmo)); then
		fail=$((fail + 1)); n_fail=1; names+=("timeout")
		echo "[$name] FAIL: timed out after ${tmo}s (limit: ESPX_TEST_TIMEOUT, tests/test_vm_*: ESPX_VM_TEST_TIMEOUT); killed with its process group"
	elif ((rc != 0 && n_fail == 0)); then
		fail=$((fail + 1)); n_fail=1; names+=("exit $rc")
		echo "[$name] FAIL: exited $rc without reporting a failure"
	elif ((n_res == 0)); then
		fail=$((fail + 1)); n_fail=1; names+=("no result")
		echo "[$name] FAIL: reported no result"
	fi
	# a script bash gave up on stopped there, whatever its EXIT trap then exits with
	bash_err=': line [0-9]+: (syntax error|.*: unbound variable$|.*: bad substitution$)'
	if grep -qE "$bash_err" "$out"; then
		fail=$((fail + 1)); n_fail=1; names+=("bash error")
		echo "[$name] FAIL: bash stopped it (or a subshell of it) at an error: $(grep -m1 -E "$bash_err" "$out")"
	fi
	if [[ $plan == bad ]]; then
		fail=$((fail + 1)); n_fail=1; names+=("plan")
		echo "[$name] FAIL: a PLAN line is not 'PLAN <number>'"
	elif [[ -n $plan ]] && ((plan != n_res)); then
		fail=$((fail + 1)); n_fail=1; names+=("plan")
		echo "[$name] FAIL: planned $plan results, reported $n_res"
	fi
	# whatever the outcome, the test's own namespaces must be gone
	if [[ -n $pid ]]; then
		left=$(reap_netns "$pid" | xargs)
		if [[ -n $left ]]; then
			fail=$((fail + 1)); n_fail=1; names+=("namespaces left")
			echo "[$name] FAIL: left namespaces behind (removed now): $left"
		fi
	fi
	if ((n_fail)); then
		line=${names[0]}
		for c in "${names[@]:1}"; do line+=", $c"; done
		failed+=("$name ($line)")
	fi
	if ((n_fail || VERBOSE)); then
		grep -vE '^(PASS|SKIP|PLAN) ' "$out" | sed "s/^/    $name| /"
	fi
	if ((n_fail)); then
		# its first FAIL and the VM runner's verdict, if any, each cut to 240 characters
		c=${#why[@]}
		while IFS= read -r line; do why+=("why: $name| ${line:0:240}"); done < <(
			{ grep -m2 '^FAIL ' "$out"; grep '^vmtest: ' "$out" | tail -n 2; } | head -n 4)
		((${#why[@]} > c)) || why+=("why: $name| ${names[*]}: see its output above")
	fi
}

echo "espx tests on $(uname -r)"
for t in "$BUILD"/tests/test_*; do
	[[ -x $t ]] || continue
	name=$(basename "$t")
	wanted "$name" || continue
	run_one "$name" "$TMO" "$t"
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
		tmo=$TMO
		[[ $name == test_vm_* ]] && tmo=$VM_TMO
		case $t in
		*.py) run_one "$name" "$tmo" "$PY" "$t" ;;
		*.sh) run_one "$name" "$tmo" bash "$t" ;;
		esac
	done
fi

if ((${#failed[@]})); then
	((${#why[@]})) && printf '%s\n' "${why[@]}"
	line="failed: ${failed[0]}"
	for t in "${failed[@]:1}"; do line+="; $t"; done
	echo "$line"
fi
summary="$pass passed, $fail failed"
((skip)) && summary+=", $skip skipped"
echo "$summary"
((fail == 0))
