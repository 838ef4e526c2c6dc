#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The AEAD backend (bpf/kmod/espx_aead.c), inside the VM: load the module built for this
# kernel, then
#   - espx check says it is there, and which implementation it took;
#   - every ESP known-answer vector and every length 0..300 with each key and ICV size
#     through it (tests/test_crypto_vectors.py, ESPX_SA_BACKEND=aead: each SA must be on
#     the backend, flipped ICVs and wrong ESN high halves refused);
#   - the kernel's ESP against espx on the backend (tests/vm/interop.sh, every espx SA
#     added with "backend aead");
#   - where the module refuses a call (SIMD busy: forced with its busy_every knob), espx's
#     own GCM takes that packet: the vectors and interop pass all the same;
#   - espx bench ab makes its third run, C (espx on the backend), beside A and B;
#   - contexts end with their SAs: one per SA while installed, one fewer after a delete,
#     none after espx unload; the module cannot be removed while espx is attached (its
#     programs hold it), and can after espx unload;
#   - without the module, "backend aead" is refused with a message that says what to do,
#     and "backend auto" runs on espx's own GCM.
# Usage: tests/vm/aead.sh KO [INTEROP_SCENARIO...]   (KO: espx_aead.ko for this kernel)
# Prints PASS/FAIL/SKIP lines; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
KO=${1:?usage: aead.sh KO [SCENARIO...]}
shift
PARAMS=/sys/module/espx_aead/parameters
NS=vmA
P=${ESPX_VM_AEAD_PREFIX:-aead}	# result names start with it

modprobe -a esp4 esp6 xfrm_user veth 2>/dev/null
# the AES-NI implementations: espx_aead takes the best one present at load
modprobe -a aesni_intel ghash_clmulni_intel 2>/dev/null
rmmod espx_aead 2>/dev/null
cleanup() {
	ip netns exec $NS "$ESPX" unload >/dev/null 2>&1
	ip netns del $NS 2>/dev/null
}
trap cleanup EXIT

if out=$(insmod "$KO" 2>&1); then
	pass "$P-module-loads ($(cat $PARAMS/driver))"
else
	fail "$P-module-loads" "insmod $KO: $out"
	exit 1
fi
out=$("$ESPX" -j check 2>&1 | $PY -c '
import json, sys
print([c["status"] + ": " + c["detail"] for c in json.load(sys.stdin) if "aead" in c["name"]])')
if [[ $out == "['ok: available: $(cat $PARAMS/driver)']" ]]; then
	pass "$P-espx-check-says-available"
else
	fail "$P-espx-check-says-available" "$out"
fi

# stat WORD: the module's count of WORD (seal, open, busy, bad_icv)
stat() { $PY -c 'import sys; w = open(sys.argv[1]).read().split(); print(w[w.index(sys.argv[2]) + 1])' \
	$PARAMS/stats "$1"; }

# the vectors, through the backend; names prefixed aead-
s0=$(stat seal) o0=$(stat open) b0=$(stat bad_icv)
ESPX_SA_BACKEND=aead $PY tests/test_crypto_vectors.py 2>&1 | sed -E "s/^(PASS|FAIL|SKIP) /\\1 $P-/"
((PIPESTATUS[0] == 0)) || _failed=1
# each vector and length: seals and opens by the module, not by espx's GCM behind it
# (18 RFC 4106 vectors, 2 hooks; 301 + 8 x 64 lengths), the flipped ICVs refused there
s1=$(stat seal) o1=$(stat open) b1=$(stat bad_icv)
if ((s1 - s0 >= 800 && o1 - o0 >= 800 && b1 - b0 >= 30)); then
	pass "$P-vectors-done-by-the-module (seal +$((s1 - s0)), open +$((o1 - o0)), ICV refused +$((b1 - b0)), busy $(stat busy))"
else
	fail "$P-vectors-done-by-the-module" "module counts: seal +$((s1 - s0)), open +$((o1 - o0)), ICV refused +$((b1 - b0)); busy $(stat busy)"
fi

# the kernel's ESP against espx on the backend
ESPX_VM_SA_EXTRA="backend aead" tests/vm/interop.sh "$@" 2>&1 | sed -E "s/^(PASS|FAIL|SKIP) /\\1 $P-/"
((PIPESTATUS[0] == 0)) || _failed=1

# where the backend cannot take a packet (SIMD busy), espx's own GCM does, under the same
# key: every third call refused (the module's test knob), the vectors and one interop
# scenario again, and the module must have refused some
echo 3 >$PARAMS/busy_every
u0=$(stat busy)
ESPX_SA_BACKEND=aead $PY tests/test_crypto_vectors.py 2>&1 | grep -E '^FAIL' | sed "s/^FAIL /FAIL $P-busy-/"
ok=$((PIPESTATUS[0] == 0))
ESPX_VM_SA_EXTRA="backend aead" ESPX_VM_XFER_BYTES=262144 tests/vm/interop.sh v4-tunnel-aes128 2>&1 |
	grep -E '^FAIL' | sed "s/^FAIL /FAIL $P-busy-/"
((PIPESTATUS[0] == 0)) || ok=0
echo 0 >$PARAMS/busy_every
u1=$(stat busy)
if ((ok && u1 - u0 >= 300)); then
	pass "$P-busy-falls-back-to-espx-gcm ($((u1 - u0)) calls refused; vectors and interop passed)"
else
	fail "$P-busy-falls-back-to-espx-gcm" "calls refused: $((u1 - u0)); the vectors or interop failed (above)"
fi

# bench ab's third run: C, espx on the backend, beside A (kernel XFRM) and B (espx's GCM);
# one round of 1 s, TCG: the columns are there and measured ESP, not performance
AB=$(mktemp -d /tmp/ab.XXXXXX)
if out=$(build/espx bench ab -r 1 -s 1 -o "$AB" 2>&1) &&
	grep -qE '^figure +unit +A kernel XFRM +B espx +C espx AEAD +B/A +C/A' "$AB/ab.txt" &&
	err=$($PY - "$AB/ab.json" <<'EOF2' 2>&1
import json, sys
j = json.load(open(sys.argv[1]))
bad = []
for f in j["figures"]:
    for s in "ABC":
        if not (f.get(s) or {}).get("median"):
            bad.append(f"{f['figure']} {s}")
    if not f.get("ratio_c_over_a"):
        bad.append(f"{f['figure']} C/A")
runs = [r for r in j["runs"] if r["side"] == "C"]
if len(runs) != 4 or not all(r["esp_out_packets"] > 0 and r["esp_in_packets"] > 0 for r in runs):
    bad.append(f"C runs: {[(r['test'], r['esp_out_packets'], r['esp_in_packets']) for r in runs]}")
print("; ".join(bad[:6]) if bad else f"{sum(r['wire_packets'] for r in runs)} packets in run C")
sys.exit(1 if bad else 0)
EOF2
); then
	pass "$P-bench-ab-third-run ($err)"
	sed 's/^/# /' "$AB/ab.txt"
else
	fail "$P-bench-ab-third-run" "${err:-$(tail -n 3 <<<"$out" | tr '\n' ' ')}"
fi
rm -rf "$AB"

# contexts: one per SA, ended by delete and by unload; the module held while attached
live() { cat $PARAMS/contexts; }
ip netns add $NS && ip -n $NS link add v0 type veth peer name v1 && ip -n $NS link set v0 up
base=$(live)
k1=$(hexkey 20) k2=$(hexkey 20)
if ip netns exec $NS "$ESPX" attach v0 >/dev/null &&
	ip netns exec $NS "$ESPX" state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2001 \
		aead "rfc4106(gcm(aes))" 0x$k1 128 backend aead &&
	ip netns exec $NS "$ESPX" state add src 10.0.0.2 dst 10.0.0.1 proto esp spi 0x2002 \
		aead "rfc4106(gcm(aes))" 0x$k2 128; then
	n=$(ip netns exec $NS "$ESPX" -j state list | $PY -c '
import json, sys
print(sum(1 for s in json.load(sys.stdin) if s.get("backend") == "aead"))')
	if [[ $n == 2 && $(live) == $((base + 2)) ]]; then
		pass "$P-one-context-per-sa"
	else
		fail "$P-one-context-per-sa" "$n SAs on backend aead (want 2, auto takes it too), contexts $base -> $(live)"
	fi
	if out=$(rmmod espx_aead 2>&1); then
		fail "$P-rmmod-refused-while-attached" "rmmod succeeded with espx attached"
		insmod "$KO"
	else
		pass "$P-rmmod-refused-while-attached"
	fi
	ip netns exec $NS "$ESPX" state del dst 10.0.0.2 proto esp spi 0x2001
	[[ $(live) == $((base + 1)) ]] && pass "$P-delete-ends-context" ||
		fail "$P-delete-ends-context" "contexts $base+2 -> $(live) after state del (want $((base + 1)))"
	ip netns exec $NS "$ESPX" unload >/dev/null
	[[ $(live) == "$base" ]] && pass "$P-unload-ends-contexts" ||
		fail "$P-unload-ends-contexts" "contexts $(live) after espx unload, want $base"
else
	fail "$P-one-context-per-sa" "espx attach or state add failed"
fi
# the last programs go a little after their pins (the kernel frees them from a work queue)
for _ in $(seq 50); do out=$(rmmod espx_aead 2>&1) && break; sleep 0.1; done
if [[ ! -d /sys/module/espx_aead ]]; then
	pass "$P-rmmod-after-unload"
else
	fail "$P-rmmod-after-unload" "$out (refcnt $(cat /sys/module/espx_aead/refcnt))"
	exit 1
fi

# without the module: "backend aead" is refused and says why, auto runs on espx's GCM
if ip netns exec $NS "$ESPX" attach v0 >/dev/null; then
	out=$(ip netns exec $NS "$ESPX" state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2003 \
		aead "rfc4106(gcm(aes))" 0x$k1 128 backend aead 2>&1)
	rc=$?
	left=$(ip netns exec $NS "$ESPX" -j state list | $PY -c '
import json, sys
print(len(json.load(sys.stdin)))')
	if ((rc != 0)) && grep -q "espx_aead module is not loaded" <<<"$out" && [[ $left == 0 ]]; then
		pass "$P-required-without-module-refused"
	else
		fail "$P-required-without-module-refused" "exit $rc, $left SA(s) left: $out"
	fi
	ip netns exec $NS "$ESPX" state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2004 \
		aead "rfc4106(gcm(aes))" 0x$k1 128 >/dev/null 2>&1
	b=$(ip netns exec $NS "$ESPX" -j state list | $PY -c '
import json, sys
print([s.get("backend") for s in json.load(sys.stdin)])')
	[[ $b == "['bpf']" ]] && pass "$P-auto-without-module-is-bpf" ||
		fail "$P-auto-without-module-is-bpf" "backends: $b"
	ip netns exec $NS "$ESPX" unload >/dev/null
else
	fail "$P-required-without-module-refused" "espx attach failed"
fi
exit $_failed
