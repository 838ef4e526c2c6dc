#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench-ab.sh: A/B benchmark of the kernel's own ESP (run A, XFRM) against espx (run B),
# and against espx on the AEAD backend (run C) where the espx_aead module is loaded.
#
# Two network namespaces (abL, abR) and a veth pair between them; an IPv4 tunnel-mode SA
# pair with rfc4106(gcm(aes)) (128-bit ICV) and the same key material for A and B, written
# as the same `ip xfrm` words: A programs them with `ip -n NS xfrm state/policy add`, B
# with `espx state/policy add` and `espx attach` in both namespaces, its SAs on espx's own
# GCM (backend bpf), C the same on the kernel's AEAD (backend aead). Per run, iperf3 from
# abL to abR: TCP one stream (Mbit/s at the receiver), UDP with 64, 512 and 1400-byte
# payloads at unlimited rate (datagrams per second delivered to the receiving socket),
# and for each the CPU time per packet: busy time of all CPUs from /proc/stat divided by
# the ESP packets that crossed the veth (both directions). Runs alternate A B (C) for
# ROUNDS rounds, namespaces built afresh and removed after every run, so runs never
# overlap. Prints a side-by-side table (median [min-max] per figure, B/A and C/A ratios of
# the medians and the ranges of per-round ratios) and writes DIR/ab.txt, DIR/ab.json,
# DIR/ab.png (gnuplot), DIR/ab.dat + ab.gp (the chart's data and script), DIR/raw/.
#
# Usage: tests/bench/bench-ab.sh [-r ROUNDS] [-s SECONDS] [-o DIR] [-k 128|256] [--only SIDES]
#   -r, --rounds N      A/B rounds (default 5)
#   -s, --seconds N     seconds of traffic per figure and run (default 10)
#   -o, --out DIR       output directory (default build/ab)
#   -k, --key-bits N    AES key bits, 128 or 256 (default 128)
#   --only SIDES        the runs to make, of A, B and C (default AB, and C where the
#                       espx_aead module is loaded): A alone on a kernel without BPF
#                       crypto, B (or BC) on one without ESP; ratios need A
# Needs root, a kernel with ESP (esp4, xfrm_user) and BPF crypto (build/espx check),
# iperf3 and gnuplot. Traffic stays between the two namespaces it creates.
# Exit status: 0 done, 1 a run failed, 2 usage or something missing on this machine.
# Env: ESPX_AB_NS=NAME: the namespaces are NAMEL and NAMER (default ab: abL, abR).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ESPX=${ESPX_BUILD:-$ROOT/build}/espx
PY=/usr/bin/python3
ROUNDS=5 SECS=10 OUT=$ROOT/build/ab BITS=128 ONLY=

usage() { sed -n '20,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "bench-ab: $*" >&2; exit 2; }
say() { echo "bench-ab: $*" >&2; }

while (($#)); do
	case $1 in
	-r | --rounds) ROUNDS=${2:-}; shift 2 || usage ;;
	-s | --seconds) SECS=${2:-}; shift 2 || usage ;;
	-o | --out) OUT=${2:-}; shift 2 || usage ;;
	-k | --key-bits) BITS=${2:-}; shift 2 || usage ;;
	--only) ONLY=${2:-}; shift 2 || usage ;;
	-h | --help) usage ;;
	*) say "unknown argument '$1'"; usage ;;
	esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive number, not '$ROUNDS'"
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "--seconds wants a positive number, not '$SECS'"
[[ $BITS == 128 || $BITS == 256 ]] || die "--key-bits wants 128 or 256, not '$BITS'"
if [[ -z $ONLY ]]; then
	ONLY=AB
	[[ -e /sys/kernel/btf/espx_aead ]] && ONLY=ABC
fi
[[ $ONLY =~ ^A?B?C?$ && -n $ONLY ]] || die "--only wants A, B or C, or several in that order (AB, BC, ABC), not '$ONLY'"
[[ -n $OUT ]] || die "--out wants a directory"
OUT=$(realpath -m "$OUT")
SIDES=()
[[ $ONLY == *A* ]] && SIDES+=(A)
[[ $ONLY == *B* ]] && SIDES+=(B)
[[ $ONLY == *C* ]] && SIDES+=(C)

# namespaces and their veth ends (tests name theirs, so that a run they killed or a
# foreign abL cannot stand in their way)
L=${ESPX_AB_NS:-ab}L R=${ESPX_AB_NS:-ab}R DL=ab0 DR=ab1
OL=10.0.0.1 OR=10.0.0.2			# outer (tunnel end) addresses on the veth
IL=192.168.1.1 IR=192.168.2.1		# inner addresses (on lo), traffic goes IL -> IR
NL=192.168.1.0/24 NR=192.168.2.0/24
SPI_LR=0x1001 SPI_RL=0x1002
PORT=5201
AEAD="rfc4106(gcm(aes))"
TESTS=(tcp udp64 udp512 udp1400)
SRV=""
CHK=abchk$$				# scratch namespace of the ESP check
OWN=0					# 1 once $L/$R are ours to remove

teardown() {
	if [[ -n $SRV ]]; then kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""; fi
	local ns
	[[ -e /run/netns/$CHK ]] && ip netns del $CHK
	((OWN)) || return 0
	for ns in $L $R; do
		[[ -e /run/netns/$ns ]] || continue
		ip netns exec "$ns" "$ESPX" unload >/dev/null 2>&1
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
}
trap 'teardown' EXIT
trap 'say "interrupted, cleaning up"; exit 130' INT
trap 'say "terminated, cleaning up"; exit 143' TERM
trap 'say "hung up, cleaning up"; exit 129' HUP

# --- what this machine must have --------------------------------------------------------
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, XFRM, BPF)"
for t in ip iperf3 gnuplot ss timeout realpath flock; do
	command -v "$t" >/dev/null || die "no '$t' on this machine (Debian: apt-get install iproute2 iperf3 gnuplot-nox)"
done
[[ -x $PY ]] || die "no $PY"
mkdir -p /run/lock
exec 8>/run/lock/espx-bench-ab.lock || die "cannot open /run/lock/espx-bench-ab.lock"
flock -n 8 || die "another bench-ab is running on this machine"
for ns in $L $R; do
	[[ -e /run/netns/$ns ]] && die "namespace $ns exists, left over from something else: remove it (ip netns del $ns)"
done
OWN=1
modprobe -a esp4 xfrm_user veth 2>/dev/null
if [[ $ONLY == *A* ]]; then
	ip netns add $CHK || die "cannot create a network namespace"
	err=$(ip -n $CHK xfrm state add src 10.255.0.1 dst 10.255.0.2 proto esp spi 0x1 mode tunnel \
		aead "$AEAD" "0x$(printf '%040d' 0)" 128 2>&1)
	rc=$?
	ip netns del $CHK
	((rc == 0)) || die "this kernel has no usable ESP for run A: 'ip xfrm state add' of an $AEAD SA said: $err
  (needs CONFIG_INET_ESP and CONFIG_XFRM_USER, modules esp4 and xfrm_user; a kernel without
  ESP can run it in the VM: scripts/vmtest.sh -- tests/bench/bench-ab.sh ..., or --only B)"
fi
if [[ $ONLY == *C* && ! -e /sys/kernel/btf/espx_aead ]]; then
	die "run C needs the espx_aead module: make module, then insmod build/kmod/$(uname -r)/espx_aead.ko"
fi
if [[ $ONLY == *B* || $ONLY == *C* ]]; then
	[[ -x $ESPX ]] || die "no $ESPX (run make first)"
	if ! err=$("$ESPX" check 2>&1); then
		die "this kernel cannot run espx (run B); 'espx check' says:
$(grep -vE '^ +ok ' <<<"$err")"
	fi
fi

# --- topology and configuration ---------------------------------------------------------
key() { head -c $(($1 / 8 + 4)) /dev/urandom | od -An -tx1 | tr -d ' \n'; }
KLR=$(key "$BITS") KRL=$(key "$BITS")	# one key+salt per direction, the same for A and B
SA_LR="src $OL dst $OR proto esp spi $SPI_LR reqid 1 mode tunnel replay-window 128 aead $AEAD 0x$KLR 128 sel src $NL dst $NR"
SA_RL="src $OR dst $OL proto esp spi $SPI_RL reqid 2 mode tunnel replay-window 128 aead $AEAD 0x$KRL 128 sel src $NR dst $NL"
POL_L_OUT="src $NL dst $NR dir out tmpl src $OL dst $OR proto esp reqid 1 mode tunnel"
POL_L_IN="src $NR dst $NL dir in tmpl src $OR dst $OL proto esp reqid 2 mode tunnel"
POL_R_OUT="src $NR dst $NL dir out tmpl src $OR dst $OL proto esp reqid 2 mode tunnel"
POL_R_IN="src $NL dst $NR dir in tmpl src $OL dst $OR proto esp reqid 1 mode tunnel"

topo_up() {
	ip netns add $L && ip netns add $R &&
		ip -n $L link set lo up && ip -n $R link set lo up &&
		ip link add $DL netns $L type veth peer name $DR netns $R &&
		ip -n $L addr add $OL/24 dev $DL && ip -n $R addr add $OR/24 dev $DR &&
		ip -n $L link set $DL up && ip -n $R link set $DR up &&
		ip -n $L addr add $IL/32 dev lo && ip -n $R addr add $IR/32 dev lo &&
		ip -n $L route add $NR via $OR src $IL && ip -n $R route add $NL via $OL src $IR
}

# The SA and policy strings are word lists, as ip xfrm wants them; called as config_$side.
# shellcheck disable=SC2086,SC2317
config_A() {
	ip -n $L xfrm state add $SA_LR && ip -n $L xfrm state add $SA_RL &&
		ip -n $L xfrm policy add $POL_L_OUT && ip -n $L xfrm policy add $POL_L_IN &&
		ip -n $R xfrm state add $SA_LR && ip -n $R xfrm state add $SA_RL &&
		ip -n $R xfrm policy add $POL_R_OUT && ip -n $R xfrm policy add $POL_R_IN
}

# B: espx's own GCM; C: the kernel's AEAD through espx_aead (refused without it)
# shellcheck disable=SC2317
config_B() { config_espx bpf; }
# shellcheck disable=SC2317
config_C() { config_espx aead; }

# shellcheck disable=SC2086,SC2317
config_espx() {
	local e=(ip netns exec) b="backend $1"
	# nothing to unload in namespaces just made (espx keys its state to the
	# namespace itself, a dead one's goes at the next espx command); harmless
	"${e[@]}" $L "$ESPX" unload >/dev/null 2>&1
	"${e[@]}" $R "$ESPX" unload >/dev/null 2>&1
	"${e[@]}" $L "$ESPX" attach $DL && "${e[@]}" $R "$ESPX" attach $DR &&
		"${e[@]}" $L "$ESPX" state add $SA_LR $b && "${e[@]}" $L "$ESPX" state add $SA_RL $b &&
		"${e[@]}" $L "$ESPX" policy add $POL_L_OUT && "${e[@]}" $L "$ESPX" policy add $POL_L_IN &&
		"${e[@]}" $R "$ESPX" state add $SA_LR $b && "${e[@]}" $R "$ESPX" state add $SA_RL $b &&
		"${e[@]}" $R "$ESPX" policy add $POL_R_OUT && "${e[@]}" $R "$ESPX" policy add $POL_R_IN
}

# --- counters ---------------------------------------------------------------------------
# busy CPU jiffies of all CPUs: user nice system irq softirq steal (not idle, iowait)
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
txpk() { ip -n "$1" -s link show dev "$2" | awk '/TX:/{getline; print $2; exit}'; }
indgram() {
	ip netns exec $R cat /proc/net/snmp |
		awk '/^Udp:/{ if (!c) { for (i = 1; i <= NF; i++) if ($i == "InDatagrams") c = i } else { print $c; exit } }'
}
# esp SIDE NS SRC DST SPI: packets through that SA in NS (out SA: sent, in SA: received)
esp() {
	if [[ $1 == A ]]; then
		ip -n "$2" -s xfrm state get src "$3" dst "$4" proto esp spi "$5" 2>/dev/null |
			awk '/lifetime current:/{getline; sub(/\(packets\)/, "", $2); print $2; exit}'
	else
		ip netns exec "$2" "$ESPX" stats 2>/dev/null |
			awk -v s="$(printf '0x%08x:' "$5")" '$1 == "SA" && $5 == s {print $6; exit}'
	fi
}
# one line: busy-jiffies wire-L wire-R udp-in esp-out(L) esp-in(R)
snapshot() {
	echo "$(busy) $(txpk $L $DL) $(txpk $R $DR) $(indgram) $(esp "$1" $L $OL $OR $SPI_LR) $(esp "$1" $R $OL $OR $SPI_LR)"
}

# --- one run: build, configure SIDE, measure every test, tear down ----------------------
RAW=$OUT/raw
TSV=$OUT/runs.tsv
run() {
	local side=$1 round=$2 err t s0 s1 rc args out
	say "round $round/$ROUNDS, run $side ($(case $side in A) echo kernel XFRM ;; B) echo espx ;; C) echo espx on the AEAD backend ;; esac))"
	err=$(topo_up 2>&1) || { say "run $side round $round: building the namespaces failed: $err"; return 1; }
	err=$("config_$side" 2>&1) || { say "run $side round $round: configuring the SAs and policies failed: $err"; return 1; }
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		out=$(ip netns exec $L ping -c 1 -W 1 -I $IL $IR 2>&1) && break
	done || { say "run $side round $round: no ping through the tunnel $IL -> $IR: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; return 1; }
	for t in "${TESTS[@]}"; do
		ip netns exec $R iperf3 -s -1 -B $IR -p $PORT >/dev/null 2>&1 &
		SRV=$!
		for _ in $(seq 100); do
			ip netns exec $R ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && break
			sleep 0.1
		done
		args=(-c "$IR" -B "$IL" -p "$PORT" -t "$SECS" -J)
		[[ $t == udp* ]] && args+=(-u -l "${t#udp}" -b 0)
		s0=$(snapshot "$side")
		timeout --foreground $((SECS + 60)) ip netns exec $L iperf3 "${args[@]}" >"$RAW/$side-r$round-$t.json" \
			2>"$RAW/$side-r$round-$t.err"
		rc=$?
		s1=$(snapshot "$side")
		for _ in $(seq 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
		kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=""
		if ((rc != 0)); then
			say "run $side round $round: iperf3 $t failed (exit $rc): $(grep -m1 '"error"' "$RAW/$side-r$round-$t.json" || tail -c 300 "$RAW/$side-r$round-$t.err")"
			return 1
		fi
		printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$side" "$t" "$s0" "$s1" >>"$TSV"
	done
	teardown
	[[ -e /run/netns/$L || -e /run/netns/$R ]] && { say "run $side round $round: namespaces still there after teardown"; return 1; }
	return 0
}

mkdir -p "$RAW" || die "cannot create $RAW"
rm -f "$RAW"/*.json "$RAW"/*.err "$OUT"/ab.json "$OUT"/ab.png "$OUT"/ab.txt "$OUT"/ab.dat "$OUT"/ab.gp
printf 'round\tside\ttest\tbefore\tafter\n' >"$TSV"
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
say "$ROUNDS rounds of ${SIDES[*]}, $SECS s per figure, AES-$BITS; output in $OUT"
for ((r = 1; r <= ROUNDS; r++)); do
	for s in "${SIDES[@]}"; do
		run "$s" "$r" || exit 1
	done
done

# --- report: table, JSON, chart ---------------------------------------------------------
AB_L=$L AB_R=$R AB_START=$START AB_ROUNDS=$ROUNDS AB_SECS=$SECS AB_BITS=$BITS AB_SIDES="${SIDES[*]}" \
	AB_HZ=$(getconf CLK_TCK) AB_AESDRV="$("$ESPX" -j check 2>/dev/null | grep -o 'driver ecb([^)]*)' | head -n1 | cut -d" " -f2)" \
	"$PY" - "$OUT" <<'PYEOF'

import json, os, platform, statistics, sys

out = sys.argv[1]
env = os.environ
hz = int(env["AB_HZ"])
sides = env["AB_SIDES"].split()
secs = int(env["AB_SECS"])
rounds = int(env["AB_ROUNDS"])
LABEL = {"tcp": "TCP 1 stream", "udp64": "UDP 64 B", "udp512": "UDP 512 B", "udp1400": "UDP 1400 B"}
NAME = {"A": "kernel XFRM", "B": "espx", "C": "espx AEAD"}
OTHERS = [s for s in sides if s != "A"] if "A" in sides else []   # sides with a ratio to A


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


runs = []
with open(os.path.join(out, "runs.tsv")) as f:
    next(f)
    for line in f:
        rnd, side, test, before, after = line.rstrip("\n").split("\t")
        b = [int(x) if x else 0 for x in before.split(" ")]
        a = [int(x) if x else 0 for x in after.split(" ")]
        with open(os.path.join(out, "raw", f"{side}-r{rnd}-{test}.json")) as jf:
            ip = json.load(jf)
        end = ip["end"]
        if test == "tcp":
            seconds = end["sum_received"]["seconds"]
            value = end["sum_received"]["bits_per_second"] / 1e6
        else:
            seconds = end["sum"]["seconds"]
        wire = (a[1] - b[1]) + (a[2] - b[2])
        delivered = a[3] - b[3]
        if test != "tcp":
            value = delivered / seconds
        busy_ns = (a[0] - b[0]) * 1e9 / hz
        runs.append({"round": int(rnd), "side": side, "run": NAME[side], "test": test,
                     "seconds": round(seconds, 3), "wire_packets": wire,
                     "udp_delivered": delivered if test != "tcp" else None,
                     "esp_out_packets": a[4] - b[4], "esp_in_packets": a[5] - b[5],
                     "busy_cpu_ns": int(busy_ns),
                     "value": value, "cpu_ns_per_packet": busy_ns / wire if wire else None})

# every run must have moved packets, through the SAs on both ends
problems = []
for r in runs:
    why = [w for w, bad in (("no packets on the veth", r["wire_packets"] <= 0),
                            (f"nothing counted on {env['AB_L']}'s outbound SA", r["esp_out_packets"] <= 0),
                            (f"nothing counted on {env['AB_R']}'s inbound SA", r["esp_in_packets"] <= 0),
                            ("no UDP datagram delivered", r["test"] != "tcp" and not r["udp_delivered"]),
                            ("zero throughput", r["value"] <= 0)) if bad]
    if why:
        problems.append(f"run {r['side']} round {r['round']} {r['test']}: {', '.join(why)}")

figures = []
for test in LABEL:
    for kind in ("rate", "cpu"):
        fig = {"figure": f"{test}_{'mbps' if test == 'tcp' else 'pps'}" if kind == "rate"
               else f"{test}_cpu_ns_per_packet",
               "label": LABEL[test] + (" CPU" if kind == "cpu" else ""),
               "unit": ("Mbit/s" if test == "tcp" else "pps") if kind == "rate" else "ns/pkt",
               "better": "higher" if kind == "rate" else "lower"}
        per = {}
        for s in sides:
            vals = [(r["round"], r["value"] if kind == "rate" else r["cpu_ns_per_packet"])
                    for r in runs if r["side"] == s and r["test"] == test]
            vals = [(n, v) for n, v in vals if v is not None]
            per[s] = dict(vals)
            xs = [v for _, v in vals]
            fig[s] = {"runs": [round(v, 3) for v in xs],
                      "median": round(statistics.median(xs), 3) if xs else None,
                      "min": round(min(xs), 3) if xs else None,
                      "max": round(max(xs), 3) if xs else None}
        for o in OTHERS:
            if not fig["A"]["median"]:
                continue
            lo = o.lower()
            fig[f"ratio_{lo}_over_a"] = round(fig[o]["median"] / fig["A"]["median"], 3)
            pr = [per[o][n] / per["A"][n] for n in per["A"] if n in per[o] and per["A"][n]]
            fig["ratio_per_round" if o == "B" else f"ratio_{lo}_per_round"] = \
                {"min": round(min(pr), 3), "max": round(max(pr), 3)} if pr else None
        figures.append(fig)

model = cpu_model()
notes = []
if "TCG" in model or "QEMU" in model:
    notes.append("QEMU-emulated CPU: a functional check, these figures are not performance")
doc = {"tool": "tests/bench/bench-ab.sh", "date": env["AB_START"], "kernel": platform.release(),
       "cpu_model": model, "cpus": os.cpu_count(), "rounds": rounds, "seconds_per_figure": secs,
       "order": f"{' '.join(sides)} alternating per round" if len(sides) > 1 else f"{sides[0]} only",
       "A": "kernel XFRM (ip xfrm state/policy)",
       "B": "espx (espx state/policy, XDP + tcx), its own GCM (backend bpf)",
       "C": "espx on the AEAD backend (backend aead: the espx_aead module's kernel AES-GCM)",
       "sa": {"aead": "rfc4106(gcm(aes))", "key_bits": int(env["AB_BITS"]), "icv_bits": 128,
              "mode": "tunnel", "family": "IPv4", "espx_aes_driver": env.get("AB_AESDRV", "")},
       "topology": f"two network namespaces, one veth pair; iperf3 client in {env['AB_L']}, "
                   f"server in {env['AB_R']}",
       "cpu_time": "busy time of all CPUs (/proc/stat user+nice+system+irq+softirq+steal) "
                   "over the run, divided by the packets that crossed the veth both ways",
       "rate": "TCP: receiver Mbit/s (iperf3); UDP: datagrams delivered to the receiving "
               f"socket (Udp InDatagrams in {env['AB_R']}) per second",
       "notes": notes, "figures": figures, "runs": runs}
for r in runs:
    r["value"] = round(r["value"], 3)
    if r["cpu_ns_per_packet"] is not None:
        r["cpu_ns_per_packet"] = round(r["cpu_ns_per_packet"], 1)
with open(os.path.join(out, "ab.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")


def num(v):
    if v is None:
        return "-"
    return f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def cell(d):
    if d["median"] is None:
        return "-"
    return f"{num(d['median'])} [{num(d['min'])}-{num(d['max'])}]"


lines = [f"espx A/B  {doc['date']}  kernel {doc['kernel']}  {model}, {doc['cpus']} CPUs",
         f"A = kernel XFRM, B = espx" + (", C = espx on the AEAD backend" if "C" in sides else "") +
         f"; IPv4 tunnel, rfc4106(gcm(aes)) AES-{env['AB_BITS']}, 128-bit ICV, veth between two "
         f"namespaces",
         f"{rounds} round(s) {' '.join(sides)}, {secs} s per figure; median [min-max] over rounds; "
         f"{', '.join(o + '/A' for o in OTHERS) or 'no ratios'} = ratio of medians [range of "
         f"per-round ratios]"]
lines += [f"NOTE: {n}" for n in notes]
hdr = f"{'figure':<16} {'unit':<7}"
for s in sides:
    hdr += f" {s + ' ' + NAME[s]:>24}"
for o in OTHERS:
    hdr += f" {o + '/A':>18}"
lines += ["", hdr]
for fig in figures:
    row = f"{fig['label']:<16} {fig['unit']:<7}"
    for s in sides:
        row += f" {cell(fig[s]):>24}"
    for o in OTHERS:
        lo = o.lower()
        rr = fig.get("ratio_per_round" if o == "B" else f"ratio_{lo}_per_round")
        r = fig.get(f"ratio_{lo}_over_a")
        ratio = "-" if r is None else f"{r:.2f} [{rr['min']:.2f}-{rr['max']:.2f}]" if rr else f"{r:.2f}"
        row += f" {ratio:>18}"
    lines.append(row)
lines.append("")
lines.append("Mbit/s, pps: higher is better; CPU ns/pkt: lower is better")
text = "\n".join(lines) + "\n"
with open(os.path.join(out, "ab.txt"), "w") as f:
    f.write(text)
sys.stdout.write(text)
if problems:
    print("bench-ab: these runs did not measure ESP traffic:\n  " + "\n  ".join(problems),
          file=sys.stderr)

# chart data: per figure, each side normalised to A's median (or to its own when alone)
base = sides[0]
with open(os.path.join(out, "ab.dat"), "w") as f:
    f.write("# label " + " ".join(f"{s}_norm {s}_lo {s}_hi" for s in sides) + "\n")
    for fig in figures:
        ref = fig[base]["median"]
        if not ref:
            continue
        lab = fig["label"].replace(" CPU", "\\nCPU ns/pkt") if fig["unit"] == "ns/pkt" \
            else fig["label"] + "\\n" + fig["unit"]
        lab += "\\n" + " / ".join(f"{s} {num(fig[s]['median'])}" for s in sides)
        cols = []
        for s in sides:
            d = fig[s]
            cols += [d["median"] / ref, d["min"] / ref, d["max"] / ref]
        f.write(f"\"{lab}\" " + " ".join(f"{c:.4f}" for c in cols) + "\n")
title = (f"espx A/B: {' vs '.join(f'{s} = {NAME[s]}' for s in sides)}, normalised to "
         f"{base}'s median (bars: median, whiskers: min-max over {rounds} rounds)\\n"
         f"kernel {doc['kernel']}, {model}, {doc['cpus']} CPUs, {secs} s per figure; "
         f"Mbit/s and pps higher is better, CPU ns/pkt lower is better")
if notes:
    title += "\\n" + notes[0]
plot = []
for i, s in enumerate(sides):
    c = 2 + 3 * i
    plot.append(f"'ab.dat' using {c}:{c + 1}:{c + 2}" + (":xtic(1)" if i == 0 else "") +
                f" title '{s} {NAME[s]}'")
with open(os.path.join(out, "ab.gp"), "w") as f:
    f.write(f"""# gnuplot script for ab.png (run in this directory: gnuplot ab.gp)
set terminal TERMINAL size 1400,700
set output 'ab.png'
set title "{title}" noenhanced
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top right noenhanced
set ylabel "relative to {base} median"
set yrange [0:*]
set grid ytics
set xtics noenhanced font ",9"
set bmargin 6
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "gray30"
plot {", ".join(plot)}
""")
sys.exit(3 if problems else 0)
PYEOF
prc=$?	# 3: written, but some runs moved no ESP packets
((prc == 0 || prc == 3)) || { say "the report failed (exit $prc)"; exit 1; }

term=png
gnuplot -e 'set terminal pngcairo' >/dev/null 2>&1 && term=pngcairo
sed -i "s/^set terminal TERMINAL/set terminal $term/" "$OUT/ab.gp"
if ! err=$(cd "$OUT" && gnuplot ab.gp 2>&1) || [[ ! -s $OUT/ab.png ]]; then
	say "gnuplot could not draw $OUT/ab.png: $err"
	exit 1
fi
say "wrote $OUT/ab.txt, $OUT/ab.json, $OUT/ab.png"
((prc == 0)) || exit 1
exit 0
