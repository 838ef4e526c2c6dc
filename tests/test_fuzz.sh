#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The fuzz harnesses (tests/fuzz/, make fuzz) on a short budget, in every run:
#  - the toolchain is there: clang-16's libFuzzer runtime (libclang-rt-16-dev,
#    installed by make deps); without it this FAILs naming the package;
#  - every harness builds (make fuzz-build);
#  - the runner fails on a crash and keeps the input: a harness made here that
#    aborts on "boom", from the seed "boo"; and with that input in the corpus,
#    its regression run (-r) fails;
#  - per harness: each committed corpus input runs once without a crash (the
#    regression inputs of fixed bugs among them), then FUZZ_TEST_SECONDS
#    (default 5) of fuzzing find none.
# No root needed (a harness that needs it says so itself).
source "$(dirname "$0")/lib/espx_test.sh"
cd "$ROOT" || exit 1
SECS=${FUZZ_TEST_SECONDS:-5}
CLANG=${CLANG:-clang-16}
names=()
for f in tests/fuzz/fuzz_*.c; do
	n=${f##*/fuzz_}
	n=${n%.c}
	# the datapath harness needs root and a namespace: tests/test_fuzz_datapath.sh
	[[ $n == datapath ]] && continue
	names+=("$n")
done
plan $((3 + 2 * ${#names[@]}))

# all the per-harness lines, failed for one reason
fail_rest() {
	local n
	for n in "${names[@]}"; do
		fail "fuzz_${n}_corpus" "$1"
		fail "fuzz_${n}_${SECS}s" "$1"
	done
}

rt=$("$CLANG" -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null)
if [[ ! -f $rt ]]; then
	fail fuzz_toolchain "$CLANG has no libFuzzer runtime (libclang_rt.fuzzer): install libclang-rt-16-dev (make deps)"
	fail fuzz_build "no fuzz toolchain"
	fail fuzz_runner_catches_crash "no fuzz toolchain"
	fail_rest "no fuzz toolchain"
	exit 1
fi
pass fuzz_toolchain

if ! out=$(make -s fuzz-build BUILD="$BUILD" 2>&1); then
	fail fuzz_build "make fuzz-build failed: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
	fail fuzz_runner_catches_crash "not built"
	fail_rest "not built"
	exit 1
fi
pass fuzz_build

# the runner itself: a crash found must fail it and leave the input
T=$(mktemp -d /tmp/espx-fuzz.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/fuzz" "$T/corpus/boom"
printf 'boo' >"$T/corpus/boom/seed"
cat >"$T/boom.c" <<'EOF'
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n >= 4 && !memcmp(d, "boom", 4))
		abort();
	return 0;
}
EOF
if ! "$CLANG" -g -fsanitize=fuzzer "$T/boom.c" -o "$T/fuzz/fuzz_boom" 2>"$T/cc.log"; then
	fail fuzz_runner_catches_crash "cannot build a harness: $(head -n 2 "$T/cc.log" | tr '\n' ' ')"
elif out=$(ESPX_BUILD=$T FUZZ_CORPUS=$T/corpus tests/fuzz/run.sh -t 20 boom 2>&1); then
	fail fuzz_runner_catches_crash "run.sh passed a harness that aborts on 'boom': $out"
elif ! ls "$T"/fuzz/crash-boom-* >/dev/null 2>&1 || [[ $(cat "$T"/fuzz/crash-boom-*) != boom* ]]; then
	fail fuzz_runner_catches_crash "run.sh failed but left no crash-boom-* input holding 'boom': $out"
elif cp "$T"/fuzz/crash-boom-* "$T/corpus/boom/" &&
	out=$(ESPX_BUILD=$T FUZZ_CORPUS=$T/corpus tests/fuzz/run.sh -r boom 2>&1); then
	fail fuzz_runner_catches_crash "run.sh -r passed a corpus holding the crashing input: $out"
else
	pass fuzz_runner_catches_crash
fi

for n in "${names[@]}"; do
	if out=$(tests/fuzz/run.sh -r "$n" 2>&1); then
		note "$out"
		pass "fuzz_${n}_corpus"
	else
		fail "fuzz_${n}_corpus" "$(tr '\n' ' ' <<<"$out")"
	fi
	if out=$(tests/fuzz/run.sh -t "$SECS" "$n" 2>&1); then
		note "$out"
		pass "fuzz_${n}_${SECS}s"
	else
		fail "fuzz_${n}_${SECS}s" "$(tr '\n' ' ' <<<"$out")"
	fi
done
exit $_failed
