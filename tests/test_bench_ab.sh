#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tests/bench/bench-ab.sh on this machine, no VM: bad options and a missing kernel ESP are
# refused with a clear message (exit 2), a namespace it did not make is left alone, and
# an espx-only run (--only B, 1 round of 1 s) writes the table, JSON and PNG and cleans up.
# `espx bench ab` and scripts/bench-ab.sh (the old path, kept) reach the same tool.
# Its namespaces are this test's own (ESPX_AB_NS=espxt<pid>-ab: no abL/abR left by a
# crashed run can stand in the way, and tests/run.sh removes them if this test is killed).
# The full A/B needs kernel ESP: tests/test_vm_ab.sh runs it in the VM.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_bench_ab
AB=$ROOT/tests/bench/bench-ab.sh
export ESPX_AB_NS=$NS_PREFIX-ab
ABL=${ESPX_AB_NS}L ABR=${ESPX_AB_NS}R
OUT=$(mktemp -d /tmp/espx-ab.XXXXXX)
_netns+=("$ABL" "$ABR")		# whatever is left of them goes with finish
trap 'rm -rf "$OUT"; finish' EXIT
trap 'fail ab-interrupted SIGTERM; exit 143' TERM
trap 'fail ab-interrupted SIGINT; exit 130' INT
LOCK=/run/lock/espx-bench-ab.lock
plan 12

# not_run WHY NAME...: the checks that cannot run, as failures that say why
not_run() {
	local why=$1 n
	shift
	for n in "$@"; do fail "$n" "not run: $why"; done
}

# kernel_lacks: the first of espx check's required features that this kernel shows no
# sign of, found without espx (so a wrong answer of espx check cannot hide behind it)
kernel_lacks() {
	local v sym
	v=$(uname -r | grep -oE '^[0-9]+\.[0-9]+')
	if ! printf '%s\n' 6.10 "$v" | sort -V -C; then
		echo "Linux $v < 6.10 (BPF crypto kfuncs)"; return
	fi
	[[ -r /sys/kernel/btf/vmlinux ]] || { echo "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)"; return; }
	for sym in bpf_crypto_encrypt:CONFIG_BPF_CRYPTO tcx_link_attach:CONFIG_NET_XGRESS \
		bpf_dynptr_from_skb:CONFIG_NET; do
		grep -qw "${sym%%:*}" /proc/kallsyms ||
			{ echo "no ${sym%%:*} in /proc/kallsyms (${sym#*:})"; return; }
	done
}

check_fails ab_rejects_zero_rounds 'rounds wants a positive number' "$AB" -r 0
check_fails ab_rejects_key_bits 'key-bits wants 128 or 256' "$AB" -k 192
check_fails ab_rejects_unknown_option "unknown argument '--bogus'" "$AB" --bogus
check_fails ab_espx_bench_runs_tool 'rounds wants a positive number' "$ESPX" bench ab -r 0
check_fails ab_old_path_runs_tool 'rounds wants a positive number' "$ROOT/scripts/bench-ab.sh" -r 0

# bench-ab runs one at a time per machine (figures would disturb each other): wait for a
# running one to finish, then go
if ! flock -w 120 "$LOCK" true; then
	not_run "another bench-ab held $LOCK for over 120 s" ab_says_no_esp \
		ab_refuses_existing_namespace ab_leaves_foreign_namespace ab_only_b_table \
		ab_only_b_json ab_only_b_png ab_only_b_cleans_up
	exit 1
fi

# does this kernel have ESP? (the same question the tool asks, asked independently)
netns_add P probe
modprobe -a esp4 xfrm_user 2>/dev/null
if ip -n "$P" xfrm state add src 10.255.0.1 dst 10.255.0.2 proto esp spi 0x1 mode tunnel \
	aead 'rfc4106(gcm(aes))' 0x0000000000000000000000000000000000000000 128 2>/dev/null; then
	skip ab_says_no_esp "this kernel has ESP: the refusal for lack of it cannot be shown here"
else
	check_fails ab_says_no_esp 'no usable ESP for run A' "$AB" -r 1 -s 1 -o "$OUT/x"
fi
ip netns del "$P"

# a namespace of that name that is not the tool's: refused, and still there afterwards
ip netns add "$ABL"
check_fails ab_refuses_existing_namespace "namespace $ABL exists" "$AB" --only B -r 1 -s 1 -o "$OUT/x"
check ab_leaves_foreign_namespace test -e "/run/netns/$ABL"
ip netns del "$ABL"

B_CHECKS=(ab_only_b_table ab_only_b_json ab_only_b_png ab_only_b_cleans_up)
if ! chk=$("$ESPX" check 2>&1); then
	missing=$(grep -vE '^ +ok |^espx: ' <<<"$chk" | xargs)
	if lacks=$(kernel_lacks) && [[ -n $lacks ]]; then
		for n in "${B_CHECKS[@]}"; do skip "$n" "this kernel cannot run espx: $lacks (espx check: $missing)"; done
	else
		# the kernel has what espx needs: espx check is wrong, or something else is
		not_run "'espx check' fails on a kernel with BPF crypto, tcx and BTF: $missing" "${B_CHECKS[@]}"
	fi
	exit
fi
ns_dirs() { ls /sys/fs/bpf/espx 2>/dev/null | grep '^net-' | sort; }
dirs_before=$(ns_dirs)
out=$("$AB" --only B -r 1 -s 1 -o "$OUT/b" 2>&1)
rc=$?
if ((rc == 0)) && grep -qE '^UDP 64 B +pps +[0-9]+ \[' "$OUT/b/ab.txt"; then pass ab_only_b_table
else fail ab_only_b_table "exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
if err=$("$PY" - "$OUT/b/ab.json" 2>&1 <<'PYEOF'
import json, sys
f = json.load(open(sys.argv[1]))["figures"]
bad = [x["figure"] for x in f if "A" in x or not x["B"]["median"] or x["B"]["median"] <= 0]
if len(f) != 8 or bad:
    sys.exit(f"{len(f)} figures (want 8), without a B median or with an A: {bad}")
PYEOF
); then pass ab_only_b_json; else fail ab_only_b_json "$err"; fi
check ab_only_b_png test "$(head -c 4 "$OUT/b/ab.png" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG'
# espx keys its pins to the namespace's identity: what the run's namespaces
# left goes at the next espx command (this status)
"$ESPX" status >/dev/null 2>&1
left=$(comm -13 <(echo "$dirs_before") <(ns_dirs) | xargs)
if [[ -e /run/netns/$ABL || -e /run/netns/$ABR || -n $left ]]; then
	fail ab_only_b_cleans_up "$(ip netns list | grep -F "$ESPX_AB_NS" | xargs) pin dirs left: $left"
else
	pass ab_only_b_cleans_up
fi
