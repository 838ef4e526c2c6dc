#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/bench-ab.sh on this machine, no VM: bad options and a missing kernel ESP are
# refused with a clear message (exit 2), a namespace abL it did not make is left alone, and
# an espx-only run (--only B, 1 round of 1 s) writes the table, JSON and PNG and cleans up.
# The full A/B needs kernel ESP: tests/test_vm_ab.sh runs it in the VM.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_bench_ab
AB=$ROOT/scripts/bench-ab.sh
OUT=$(mktemp -d /tmp/espx-ab.XXXXXX)
trap 'rm -rf "$OUT"; finish' EXIT INT TERM

check_fails ab_rejects_zero_rounds 'rounds wants a positive number' "$AB" -r 0
check_fails ab_rejects_key_bits 'key-bits wants 128 or 256' "$AB" -k 192
check_fails ab_rejects_unknown_option "unknown argument '--bogus'" "$AB" --bogus

if ! flock -n /run/lock/espx-bench-ab.lock true 2>/dev/null || [[ -e /run/netns/abL || -e /run/netns/abR ]]; then
	skip ab_leaves_foreign_namespace "a bench-ab is running on this machine"
	skip ab_only_b "a bench-ab is running on this machine"
	exit 0
fi

# does this kernel have ESP? (the same question the tool asks, asked independently)
netns_add P probe
modprobe -a esp4 xfrm_user 2>/dev/null
if ip -n "$P" xfrm state add src 10.255.0.1 dst 10.255.0.2 proto esp spi 0x1 mode tunnel \
	aead 'rfc4106(gcm(aes))' 0x0000000000000000000000000000000000000000 128 2>/dev/null; then
	skip ab_says_no_esp "this kernel has ESP"
else
	check_fails ab_says_no_esp 'no usable ESP for run A' "$AB" -r 1 -s 1 -o "$OUT/x"
fi
cleanup_netns

# a namespace called abL that is not ours: refused, and still there afterwards
ip netns add abL
check_fails ab_refuses_existing_namespace 'namespace abL exists' "$AB" --only B -r 1 -s 1 -o "$OUT/x"
check ab_leaves_foreign_namespace test -e /run/netns/abL
ip netns del abL

if ! "$ESPX" check >/dev/null 2>&1; then
	skip ab_only_b "espx check fails on this kernel"
	exit 0
fi
out=$("$AB" --only B -r 1 -s 1 -o "$OUT/b" 2>&1)
rc=$?
if ((rc == 0)) && grep -qE '^UDP 64 B +pps +[0-9]+ \[' "$OUT/b/ab.txt"; then pass ab_only_b_table
else fail ab_only_b_table "exit $rc: $(tail -n 3 <<<"$out" | tr '\n' ' ')"; fi
if err=$("$PY" - "$OUT/b/ab.json" 2>&1 <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))["figures"]
bad = [x["figure"] for x in f if "A" in x or not x["B"]["median"] or x["B"]["median"] <= 0]
if len(f) != 8 or bad:
    sys.exit(f"{len(f)} figures (want 8), without a B median or with an A: {bad}")
EOF
); then pass ab_only_b_json; else fail ab_only_b_json "$err"; fi
check ab_only_b_png test "$(head -c 4 "$OUT/b/ab.png" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG'
if [[ -e /run/netns/abL || -e /run/netns/abR || -e /sys/fs/bpf/espx-abL || -e /sys/fs/bpf/espx-abR ]]; then
	fail ab_only_b_cleans_up "$(ip netns list | tr '\n' ' ') $(ls -d /sys/fs/bpf/espx-ab* 2>/dev/null)"
else
	pass ab_only_b_cleans_up
fi
