#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Functional check of tests/bench/bench-ab.sh, run inside the 6.12 VM (kernel ESP + BPF crypto):
# a tiny A/B (ROUNDS x SECONDS, default 2 x 1) must print the table and write ab.json with
# every figure for A and B from packets that went through the SAs, and a PNG; an
# interrupted run (SIGINT to its process group, as Ctrl-C does) must leave no namespace.
# Under TCG the figures are not performance; only their presence and sanity are checked.
# Usage: tests/vm/ab.sh [ROUNDS [SECONDS]]   Prints PASS/FAIL lines; exits 1 on failure.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/espx_test.sh
ROUNDS=${1:-2} SECS=${2:-1}
OUT=$(mktemp -d /tmp/ab.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
no_ns() { ! ip netns list | grep -qE '^(abL|abR|abchk[0-9]+)( |$)'; }

t0=$SECONDS
# its progress (stderr) goes out as it comes ("# " lines), so a run that hangs
# shows where; the table (stdout) comes at the end
build/espx bench ab -r "$ROUNDS" -s "$SECS" -o "$OUT" 2>&1 >"$OUT/stdout" |
	tee "$OUT/stderr" | sed -u 's/^/# /'
rc=${PIPESTATUS[0]}
cat "$OUT/stdout"
echo "# bench-ab: ${ROUNDS} rounds x ${SECS} s took $((SECONDS - t0)) s"
if ((rc == 0)); then pass vm-ab-run
else fail vm-ab-run "espx bench ab exited $rc: $(tail -n 3 "$OUT/stderr" | tr '\n' ' ')"; fi

# the table: a header with both runs and one row per figure with a B/A ratio
rows=$(grep -cE '^(TCP 1 stream|UDP (64|512|1400) B)( CPU)? +(Mbit/s|pps|ns/pkt) .* [0-9.]+ \[[0-9.]+-[0-9.]+\] *$' "$OUT/stdout")
if grep -qE '^figure +unit +A kernel XFRM +B espx +B/A' "$OUT/stdout" && ((rows == 8)) &&
	cmp -s "$OUT/stdout" "$OUT/ab.txt"; then
	pass "vm-ab-table (8 figures, same as ab.txt)"
else
	fail vm-ab-table "want a header and 8 figure rows with B/A on stdout and in ab.txt; got $rows rows"
fi

# ab.json: every figure for A and B, each run with packets through both SAs
if err=$("$PY" - "$OUT/ab.json" "$ROUNDS" <<'EOF' 2>&1
import json, os, sys
j = json.load(open(sys.argv[1]))
rounds = int(sys.argv[2])
bad = []
for k in ("kernel", "cpu_model", "rounds", "date", "figures", "runs"):
    if k not in j:
        bad.append(f"no '{k}'")
if j.get("kernel") != os.uname().release:
    bad.append(f"kernel {j.get('kernel')!r}, running {os.uname().release!r}")
if j.get("rounds") != rounds:
    bad.append(f"rounds {j.get('rounds')} != {rounds}")
want = {f"{t}_{u}" for t in ("udp64", "udp512", "udp1400") for u in ("pps", "cpu_ns_per_packet")}
want |= {"tcp_mbps", "tcp_cpu_ns_per_packet"}
got = {f["figure"]: f for f in j.get("figures", [])}
if set(got) != want:
    bad.append(f"figures {sorted(got)}")
for name, f in got.items():
    for s in ("A", "B"):
        d = f.get(s) or {}
        if len(d.get("runs", [])) != rounds or not all(v > 0 for v in d["runs"]):
            bad.append(f"{name} {s}: runs {d.get('runs')}")
        elif not d["min"] <= d["median"] <= d["max"]:
            bad.append(f"{name} {s}: median {d['median']} outside [{d['min']}, {d['max']}]")
    r = f.get("ratio_b_over_a")
    if not r or abs(r - f["B"]["median"] / f["A"]["median"]) > 0.01 * r:
        bad.append(f"{name}: B/A {r}")
runs = j.get("runs", [])
if len(runs) != rounds * 2 * 4:
    bad.append(f"{len(runs)} runs, want {rounds * 8}")
for r in runs:
    tag = f"{r['side']} r{r['round']} {r['test']}"
    for k in ("wire_packets", "esp_out_packets", "esp_in_packets", "busy_cpu_ns"):
        if not r[k] > 0:
            bad.append(f"{tag}: {k} {r[k]}")
    if r["test"] != "tcp" and not r["udp_delivered"] > 0:
        bad.append(f"{tag}: no UDP datagram delivered")
    # what abR's inbound SA decrypted cannot exceed what abL's outbound SA sent
    if r["esp_in_packets"] > r["esp_out_packets"]:
        bad.append(f"{tag}: {r['esp_in_packets']} in > {r['esp_out_packets']} out")
if bad:
    print("; ".join(bad[:8]))
    sys.exit(1)
print(f"{len(runs)} runs, {sum(r['wire_packets'] for r in runs)} packets on the wire")
EOF
); then pass "vm-ab-json ($err)"; else fail vm-ab-json "$err"; fi

if [[ $(head -c 8 "$OUT/ab.png" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] &&
	(($(stat -c %s "$OUT/ab.png") > 2000)); then
	pass "vm-ab-png ($(stat -c %s "$OUT/ab.png") bytes)"
else
	fail vm-ab-png "no PNG at $OUT/ab.png: $(head -c 16 "$OUT/ab.png" 2>&1 | od -c | head -n 1)"
fi
if no_ns; then pass vm-ab-no-namespace-left; else fail vm-ab-no-namespace-left "$(ip netns list | tr '\n' ' ')"; fi

# Ctrl-C in the middle of a run: exit 130, nothing left behind. The run gets its own
# process group with SIGINT at its default, as a terminal's foreground job has: a script's
# background job has SIGINT ignored, and `set -m` does not always give it a group of its
# own where there is no terminal (CI once saw the signal go nowhere and the run complete).
# It comes while the TCP client runs in abL (a fixed point, where a user's Ctrl-C most
# likely falls); the figures are long enough that the run cannot end on its own first,
# and a run still going 30 s after the signal is a failure, shown with its signal masks.
"$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setpgid(0, 0)
os.execvp(sys.argv[1], sys.argv[1:])' tests/bench/bench-ab.sh -r 1 -s 60 --only A -o "$OUT/int" \
	>/dev/null 2>"$OUT/int.err" &
pid=$!
client_up() {
	local p
	for p in $(ip netns pids abL 2>/dev/null); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == iperf3 ]] && return 0
	done
	return 1
}
for _ in $(seq 1200); do client_up && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
masks=$(awk '/^Sig(Ign|Cgt):/ {printf "%s %s ", $1, $2}' "/proc/$pid/status" 2>/dev/null)
kill -INT -- -"$pid" 2>/dev/null
krc=$?
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	fail vm-ab-interrupt-cleans-up "still running 30 s after SIGINT to its group (kill $krc; $masks); $(tail -n 2 "$OUT/int.err" | tr '\n' ' ')"
	kill -TERM -- -"$pid" 2>/dev/null
	wait "$pid"
else
	wait "$pid"
	rc=$?
	if ((rc == 130)) && no_ns && ! pgrep -x iperf3 >/dev/null; then
		pass vm-ab-interrupt-cleans-up
	else
		fail vm-ab-interrupt-cleans-up "exit $rc (want 130; kill $krc; $masks), namespaces: $(ip netns list | tr '\n' ' '), iperf3: $(pgrep -x iperf3 | tr '\n' ' '); $(tail -n 2 "$OUT/int.err" | tr '\n' ' ')"
	fi
fi
exit $_failed
