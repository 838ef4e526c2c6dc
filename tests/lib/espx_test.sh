# SPDX-License-Identifier: GPL-2.0
# The one library of the shell tests (tests/*.sh, and through tests/vm/lib.sh the scripts
# run in the VM): result lines for tests/run.sh, network namespaces that the test creates
# and always removes, waits and keys. Source it.
# Result lines (tests/run.sh counts them): PASS name | FAIL name: why | SKIP name: why |
# PLAN n. A script may set T_PREFIX after sourcing: every name then starts with it.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${ESPX_BUILD:-$ROOT/build}
ESPX=$BUILD/espx
PY=/usr/bin/python3
NS_PREFIX=espxt$$
T_PREFIX=
_failed=0
_nfailed=0	# FAIL lines so far: a part of a script can see whether it added any
_netns=()

pass() { echo "PASS $T_PREFIX$1"; }
fail() { echo "FAIL $T_PREFIX$1: $2"; _failed=1; _nfailed=$((_nfailed + 1)); }
skip() { echo "SKIP $T_PREFIX$1: $2"; }
# plan N: this test prints N PASS/FAIL/SKIP lines; tests/run.sh FAILs it if it reports
# another number (it stopped early)
plan() { echo "PLAN $1"; }
# note TEXT: a comment line (shown when the test fails)
note() { echo "# $*"; }
# excerpt N FILE: FILE's last N lines as comment lines, if it exists
excerpt() { [[ -f $2 ]] && tail -n "$1" "$2" | sed 's/^/#   /'; }

# check NAME CMD...: PASS if CMD succeeds
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "'$*' failed"; fi
}

# check_fails NAME PATTERN CMD...: CMD must fail and say PATTERN on stderr/stdout
check_fails() {
	local name=$1 pat=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if ((rc == 0)); then
		fail "$name" "'$*' succeeded; expected failure"
	elif ! grep -qE -- "$pat" <<<"$out"; then
		fail "$name" "'$*' said '$out'; expected /$pat/"
	else
		pass "$name"
	fi
}

# json_get JSON PYEXPR: evaluate PYEXPR with the parsed document as j
json_get() {
	"$PY" -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds; fails after SECONDS
wait_for() {
	local t=$(($1 * 10))
	shift
	while ((t-- > 0)); do "$@" && return 0; sleep 0.1; done
	return 1
}

# stop PID [SIGNAL]: signal a background job (default TERM) and reap it; no PID, no-op
stop() { [[ -n $1 ]] && { kill "-${2:-TERM}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; }; }

# stop_or_kill PID [SECONDS]: SIGTERM, up to SECONDS (default 5) for PID to end, then
# SIGKILL; reaps it if it is a child. Fails if it needed the SIGKILL.
stop_or_kill() {
	local rc=0
	kill "$1" 2>/dev/null
	for _ in $(seq $((${2:-5} * 10))); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$1" 2>/dev/null; then kill -9 "$1" 2>/dev/null; rc=1; fi
	wait "$1" 2>/dev/null
	return $rc
}

# hexkey BYTES: that many random bytes in hex (key material for test SAs)
hexkey() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# netns_add VAR SHORT: create namespace $NS_PREFIX-SHORT, name it in VAR.
# Not called in $(...): the list of namespaces to remove lives in this shell.
netns_add() {
	local ns=$NS_PREFIX-$2
	ip netns add "$ns" && ip -n "$ns" link set lo up && _netns+=("$ns")
	printf -v "$1" '%s' "$ns"
}

# pin_dir NS: where espx pins the state of namespace NS (platform/pins.h):
# one directory per namespace identity, its nsfs inode.
pin_dir() {
	local ino
	ino=$(stat -L -c %i "/run/netns/$1") || return 1
	echo "/sys/fs/bpf/espx/net-$ino"
}

# veth_pair NS1 DEV1 NS2 DEV2 ADDR1/PLEN ADDR2/PLEN
veth_pair() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
	ip -n "$1" addr add "$5" dev "$2" && ip -n "$3" addr add "$6" dev "$4" &&
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

cleanup_netns() {
	local ns
	for ns in "${_netns[@]}"; do
		ip netns exec "$ns" "$ESPX" unload >/dev/null 2>&1
		ip netns del "$ns" 2>/dev/null
	done
	_netns=()
}

finish() {
	cleanup_netns
	exit $_failed
}

need_root() {
	if [[ $(id -u) != 0 ]]; then
		skip "$1" "needs root"
		exit 0
	fi
}
