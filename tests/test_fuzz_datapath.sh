#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Datapath fuzzing (issue 16): build/fuzz/fuzz_datapath (tests/fuzz/fuzz_datapath.c)
# drives the real espx_xdp_rx and espx_tc_tx, set up by espx itself in a network
# namespace the harness makes for itself (unshare), with random and mutated frames
# through BPF_PROG_TEST_RUN, and aborts on any broken invariant (authentication,
# round trip, replay, inbound policy, plaintext in or out, counters, reasons).
#   1. every input of tests/fuzz/corpus/datapath once, without a violation;
#   2. those inputs reached what the invariants are about (decryptions, ICV and
#      replay drops, the inbound check's refusals, plaintext and block drops), so
#      that no invariant passes for want of cases;
#   3. a short fuzz from that corpus (ESPX_FUZZ_SECONDS, default 20 s): no
#      violation, no crash (the input is kept in build/fuzz/crashes/);
#   4. the harness's espx state is gone after it (its pin directory).
source "$(dirname "$0")/lib/espx_test.sh"
need_root fuzz_datapath
trap finish EXIT INT TERM
plan 5
BIN=$BUILD/fuzz/fuzz_datapath
CORPUS=$ROOT/tests/fuzz/corpus/datapath
SECS=${ESPX_FUZZ_SECONDS:-20}
T=$(mktemp -d /tmp/espx-fuzzdp.XXXXXX)
trap 'rm -rf "$T"; finish' EXIT INT TERM

out=$(cd "$ROOT" && make -s BUILD="$BUILD" "$BIN" 2>&1)
if [[ ! -x $BIN ]]; then
	fail fuzz_dp_built "$BIN does not build: $(tail -n 2 <<<"$out" | tr '\n' ' ')(it needs libclang-rt-16-dev: make deps)"
	for c in fuzz_dp_corpus fuzz_dp_reached fuzz_dp_short fuzz_dp_state_removed; do
		fail "$c" "no harness"
	done
	exit 1
fi
pass fuzz_dp_built

# the violation line (INVARIANT ...) or libFuzzer's verdict, for a FAIL
why_of() {
	grep -m1 '^INVARIANT' "$1" || grep -m1 -E 'ERROR: libFuzzer|^fuzz_datapath: [^e]' "$1" ||
		tail -n 1 "$1"
}

# 1. the corpus, each file once (file arguments: nothing is written to the corpus)
shopt -s nullglob
files=("$CORPUS"/*)
if ((${#files[@]} == 0)); then
	fail fuzz_dp_corpus "no inputs in $CORPUS"
elif ESPX_FUZZ_SUMMARY=$T/summary "$BIN" "${files[@]}" >"$T/corpus.log" 2>&1; then
	pass fuzz_dp_corpus
else
	excerpt 20 "$T/corpus.log"
	fail fuzz_dp_corpus "$(why_of "$T/corpus.log")"
fi

# 2. what the corpus reached (the harness's summary: reasons counted per direction)
missing=()
[[ -s $T/summary ]] || missing+=("(no summary: the corpus run stopped)")
dec=$(awk '$1 == "decrypted" {print $2}' "$T/summary" 2>/dev/null)
((${dec:-0} > 0)) || missing+=("decrypted frames")
for want in "in icv-mismatch" "in replay" "in inbound-no-policy" "in inbound-template-mismatch" \
	    "in policy-block" "in plaintext-on-protected-selector" "out policy-block" \
	    "in ike-bypass" "out ike-bypass"; do
	grep -q "^reason $want " "$T/summary" 2>/dev/null || missing+=("$want")
done
if ((${#missing[@]})); then
	excerpt 30 "$T/summary"
	fail fuzz_dp_reached "the corpus did not reach: ${missing[*]}"
else
	pass fuzz_dp_reached
fi

# 3. a short fuzz, from a copy of the corpus (libFuzzer adds to it)
mkdir -p "$T/corpus" "$T/art"
cp "${files[@]}" "$T/corpus/"
if "$BIN" -max_total_time="$SECS" -max_len=1024 -print_final_stats=1 \
	-artifact_prefix="$T/art/" "$T/corpus" >"$T/fuzz.log" 2>&1; then
	note "$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$T/fuzz.log" | tr '\n' ' ')"
	pass fuzz_dp_short
else
	mkdir -p "$BUILD/fuzz/crashes"
	cp "$T"/art/* "$BUILD/fuzz/crashes/" 2>/dev/null
	excerpt 30 "$T/fuzz.log"
	fail fuzz_dp_short "$(why_of "$T/fuzz.log") (input kept in $BUILD/fuzz/crashes/)"
fi

# 4. the harness unloads espx from its namespace when it exits
pin=$(sed -n 's/.*namespace of its own (\([^)]*\)).*/\1/p' "$T/fuzz.log" | head -n 1)
if [[ -z $pin ]]; then
	fail fuzz_dp_state_removed "the harness did not say where its state was"
elif [[ -e $pin ]]; then
	fail fuzz_dp_state_removed "$pin is still there after the harness exited"
else
	pass fuzz_dp_state_removed
fi
# after a crash libFuzzer caught (no atexit), the next espx command releases the
# state of the harness's dead namespace
for d in /sys/fs/bpf/espx/net-*; do
	[[ -e $d ]] && "$ESPX" status --all >/dev/null 2>&1 && break
done
