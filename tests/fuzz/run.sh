#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs the libFuzzer harnesses: every $BUILD/fuzz/fuzz_<name> (make fuzz-build),
# each from its committed corpus tests/fuzz/corpus/<name>/ (read only; what the
# run adds goes to $BUILD/fuzz/corpus/<name>/, kept between runs). Per harness
# one line:
#   fuzz_<name>: N execs (N/s), cov N ft N, corpus N, crashes N
# cov and ft are libFuzzer's (edges covered, features), from its last status
# line. A crash, sanitizer report, timeout (-timeout, default 10 s per input)
# or out-of-memory leaves the input in $BUILD/fuzz/crash-<name>-* and makes
# the script exit 1.
# Usage: tests/fuzz/run.sh [-t SECONDS] [-r] [NAME...]
#   -t SECONDS  fuzz each harness that long (default $FUZZ_SECONDS, else 60)
#   -r          regression only: run each committed corpus input once, no fuzzing
#   NAME        only these harnesses (fuzz_NAME); default all that are built
# FUZZ_CORPUS: where the committed corpora are (default tests/fuzz/corpus).
# A harness may have tests/fuzz/fuzz_<name>.options: more libFuzzer flags, one
# per line (e.g. -max_len=9000).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${ESPX_BUILD:-build}
CORPUS=${FUZZ_CORPUS:-tests/fuzz/corpus}	# another place: tests/test_fuzz.sh's self-check
SECS=${FUZZ_SECONDS:-60}
REGRESS=0
while getopts "t:r" o; do
	case $o in
	t) SECS=$OPTARG ;;
	r) REGRESS=1 ;;
	*) sed -n 's/^# Usage: /usage: /p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if ! [[ $SECS =~ ^[0-9]+$ ]] || ((SECS < 1)); then
	echo "fuzz: FUZZ_SECONDS/-t must be a whole number of seconds >= 1, not '$SECS'" >&2
	exit 2
fi

names=("$@")
if ((${#names[@]} == 0)); then
	for b in "$BUILD"/fuzz/fuzz_*; do
		[[ -x $b && -f $b ]] && names+=("${b##*/fuzz_}")
	done
fi
if ((${#names[@]} == 0)); then
	echo "fuzz: no harness in $BUILD/fuzz/ (build them: make fuzz-build)" >&2
	exit 1
fi

bad=0
for n in "${names[@]}"; do
	bin=$BUILD/fuzz/fuzz_$n seeds=$CORPUS/$n work=$BUILD/fuzz/corpus/$n
	log=$BUILD/fuzz/fuzz_$n.log prefix=$BUILD/fuzz/crash-$n-
	if [[ ! -x $bin ]]; then
		echo "fuzz_$n: FAIL: $bin not built (make fuzz-build)"
		bad=1
		continue
	fi
	if [[ ! -d $seeds ]] || [[ -z $(ls -A "$seeds") ]]; then
		echo "fuzz_$n: FAIL: no seed corpus in $seeds/"
		bad=1
		continue
	fi
	opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "-artifact_prefix=$prefix")
	[[ -f tests/fuzz/fuzz_$n.options ]] && mapfile -t -O ${#opts[@]} opts < <(grep -v '^#' "tests/fuzz/fuzz_$n.options")
	before=$(ls "$prefix"* 2>/dev/null | wc -l)
	if ((REGRESS)); then
		# each committed input once, by name (a crash names the file)
		"$bin" "${opts[@]}" "$seeds"/* >"$log" 2>&1
		rc=$?
		ran=$(grep -c '^Executed ' "$log")
	else
		mkdir -p "$work"
		"$bin" "${opts[@]}" -max_total_time="$SECS" "$work" "$seeds" >"$log" 2>&1
		rc=$?
	fi
	after=$(ls "$prefix"* 2>/dev/null | wc -l)
	crashes=$((after - before))
	if ((REGRESS)); then
		line="fuzz_$n: regression: $ran of $(ls "$seeds" | wc -l) corpus inputs run"
	else
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
		last=$(grep -E '^#[0-9]+' "$log" | tail -n1)
		cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
		ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
		corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
		line="fuzz_$n: ${execs:-?} execs (${rate:-?}/s), cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?}"
	fi
	if ((rc != 0 || crashes > 0)); then
		bad=1
		echo "$line, crashes $crashes: FAIL (exit $rc; log $log)"
		grep -E '^SUMMARY:|ERROR: libFuzzer|runtime error|^fuzz_[a-z_]*: ' "$log" | head -n 3 | sed 's/^/  /'
		((crashes > 0)) && ls -t "$prefix"* | head -n "$crashes" | sed 's/^/  input: /'
		((REGRESS)) && sed -n 's/^Running: /  input: /p' "$log" | tail -n 1
	else
		echo "$line, crashes 0"
	fi
done
exit $bad
