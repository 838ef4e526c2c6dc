#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx state/policy/stats/monitor in namespaces of our own: SAs installed
# from `ip xfrm` lines before any attach, refused lines leave nothing
# behind, policy templates resolve to the newest usable SA and to none once
# it is deleted (fail closed), and no key ever shows up in any output or in
# the pinned maps.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_cli
trap finish EXIT INT TERM

netns_add A cli
PIN=$(pin_dir "$A")
in_a() { ip netns exec "$A" "$@"; }
espx() { in_a "$ESPX" "$@"; }

AEAD="rfc4106(gcm(aes))"
KEY128=00112233445566778899aabbccddeeff
SALT128=01020304
KEY256=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
SALT256=a0a1a2a3
KEYS=("$KEY128" "$KEY256" "${KEY128:8:16}" "${KEY256:16:32}")
ALL_OUT=$(mktemp /tmp/espx-cli.XXXXXX)
trap 'rm -f "$ALL_OUT"; finish' EXIT INT TERM

# run CMD, keep its stdout and stderr for the key check at the end
run() { "$@" 2>&1 | tee -a "$ALL_OUT"; return "${PIPESTATUS[0]}"; }

# check_rc NAME RC PATTERN CMD...: CMD exits RC and says PATTERN
check_rc() {
	local name=$1 want=$2 pat=$3 out rc
	shift 3
	out=$(run "$@")
	rc=$?
	if ((rc != want)); then
		fail "$name" "'$*' exited $rc, want $want: $out"
	elif ! grep -qE -- "$pat" <<<"$out"; then
		fail "$name" "'$*' said '$out'; expected /$pat/"
	else
		pass "$name"
	fi
}

sa_json() { run espx -j state list; }
pol_json() { run espx -j policy list; }
# resolved SA spi of the only policy with dir $1
resolved() { json_get "$(pol_json)" "[p['sa']['spi'] for p in j if p['dir'] == '$1'][0]"; }

# ---- state add before attach, AES-128 and AES-256 ----
check_rc state_add_aes128 0 '^$' espx state add src 10.88.0.1 dst 10.88.0.2 proto esp \
	spi 0x1001 reqid 5 mode tunnel replay-window 64 aead "$AEAD" 0x$KEY128$SALT128 128 \
	limit packet-soft 1000 limit byte-hard 0x100000 encap espinudp 4500 4500 0.0.0.0 \
	flag noecn decap-dscp nopmtudisc af-unspec extra-flag dont-encap-dscp
check state_add_loads_maps test -e "$PIN/espx_sa"
check_rc state_add_aes256_ipv6 0 '^$' espx state add src 2001:db8::1 dst 2001:db8::2 \
	proto esp spi 4096 aead "$AEAD" 0x$KEY256$SALT256 96 flag esn replay-window 128 \
	replay-oseq 7 replay-oseq-hi 1 \
	sel src 2001:db8::1/128 dst 2001:db8::2/128 proto tcp dport 443

js=$(sa_json)
check list_json_count test "$(json_get "$js" 'len(j)')" = 2
sa4="[s for s in j if s['spi'] == 0x1001][0]"
sa6="[s for s in j if s['spi'] == 4096][0]"
check list_json_v4_ids test "$(json_get "$js" "($sa4['src'], $sa4['dst'], $sa4['family'], $sa4['proto'], $sa4['reqid'], $sa4['mode'])")" = \
	"('10.88.0.1', '10.88.0.2', 'inet', 'esp', 5, 'tunnel')"
check list_json_v4_aead test "$(json_get "$js" "($sa4['aead']['name'], $sa4['aead']['key_bits'], $sa4['aead']['icv_bits'])")" = \
	"('rfc4106(gcm(aes))', 128, 128)"
check list_json_v4_window test "$(json_get "$js" "($sa4['replay_window'], $sa4['esn'], $sa4['ready'])")" = "(64, False, True)"
check list_json_v4_limits test "$(json_get "$js" "($sa4['lifetime']['packet_soft'], $sa4['lifetime']['byte_hard'], $sa4['lifetime']['packet_hard'] == 2**64 - 1)")" = \
	"(1000, 1048576, True)"
check list_json_v4_add_time test "$(json_get "$js" "$sa4['lifetime']['add_time_ns'] > 0 and $sa4['lifetime']['use_time_ns'] == 0")" = True
check list_json_v4_stats test "$(json_get "$js" "($sa4['stats']['replay'], $sa4['stats']['integrity_failed'], $sa4['soft_expired'], $sa4['hard_expired'])")" = \
	"(0, 0, False, False)"
check list_json_v6_ids test "$(json_get "$js" "($sa6['dst'], $sa6['family'], $sa6['mode'], $sa6['aead']['key_bits'], $sa6['aead']['icv_bits'])")" = \
	"('2001:db8::2', 'inet6', 'transport', 256, 96)"
check list_json_v6_esn test "$(json_get "$js" "($sa6['esn'], $sa6['replay_window'], $sa6['oseq'] == (1 << 32) + 7)")" = "(True, 128, True)"
check list_json_v4_flags test "$(json_get "$js" "($sa4['flags'], $sa4['extra_flags'])")" = \
	"(['noecn', 'decap-dscp', 'nopmtudisc'], ['dont-encap-dscp'])"
check list_json_v6_flags test "$(json_get "$js" "($sa6['flags'], $sa6['extra_flags'])")" = "(['esn'], [])"
check list_json_v4_encap test "$(json_get "$js" "($sa4['encap']['type'], $sa4['encap']['sport'], $sa4['encap']['dport'])")" = "('espinudp', 4500, 4500)"
check_rc state_add_encap_ipv6_refused 2 'over IPv6' espx state add src 2001:db8::1 \
	dst 2001:db8::3 proto esp spi 4097 aead "$AEAD" 0x$KEY128$SALT128 128 \
	encap espinudp 4500 4500 ::
check list_json_v6_sel test "$(json_get "$js" "($sa6['sel']['src'], $sa6['sel']['dst'], $sa6['sel']['proto'], $sa6['sel']['dport'])")" = \
	"('2001:db8::1/128', '2001:db8::2/128', 'tcp', 443)"

txt=$(run espx state list)
check list_text_spi grep -q 'proto esp spi 0x00001001 reqid 5 mode tunnel' <<<"$txt"
check list_text_no_key grep -q "aead rfc4106(gcm(aes)) <key not kept> 128" <<<"$txt"
check list_text_esn grep -q 'flag esn' <<<"$txt"
check list_text_flags grep -q 'oseq 0x00000000 flag noecn decap-dscp nopmtudisc extra_flag dont-encap-dscp$' <<<"$txt"
check list_text_lifetime grep -q 'limit: soft 1000(packets), hard (INF)(packets)' <<<"$txt"
check list_text_stats grep -q 'replay-window 64 replay 0 failed 0' <<<"$txt"
check show_is_list test "$(run espx state show)" = "$txt"

# ---- refusals ----
check_rc state_duplicate 1 'SA exists' espx state add src 10.88.0.1 dst 10.88.0.2 \
	proto esp spi 0x1001 reqid 5 mode tunnel aead "$AEAD" 0x$KEY256$SALT256 128
check_rc state_unsupported_enc 2 "'enc'" espx state add src 10.88.0.1 dst 10.88.0.2 \
	proto esp spi 0x2001 enc 'cbc(aes)' 0x$KEY128 auth 'hmac(sha1)' 0x$KEY128
check_rc state_unsupported_aead 2 "'rfc4309\(ccm\(aes\)\)'" espx state add src 10.88.0.1 \
	dst 10.88.0.2 proto esp spi 0x2002 aead 'rfc4309(ccm(aes))' 0x$KEY128$SALT128 128
check_rc state_unsupported_flag 2 "'wildrecv'" espx state add src 10.88.0.1 dst 10.88.0.2 \
	proto esp spi 0x2003 aead "$AEAD" 0x$KEY128$SALT128 128 flag noecn wildrecv
check_rc state_unsupported_extra_flag 2 "'oseq-may-wrap'" espx state add src 10.88.0.1 \
	dst 10.88.0.2 proto esp spi 0x2003 aead "$AEAD" 0x$KEY128$SALT128 128 \
	extra-flag oseq-may-wrap
check_rc state_unsupported_offload 2 "'offload'" espx state add src 10.88.0.1 dst 10.88.0.2 \
	proto esp spi 0x2004 aead "$AEAD" 0x$KEY128$SALT128 128 offload dev lo dir out
check_rc state_proto_ah 2 "'ah'" espx state add src 10.88.0.1 dst 10.88.0.2 proto ah \
	spi 0x2005 aead "$AEAD" 0x$KEY128$SALT128 128
check_rc state_bad_key_length 2 'wrong length' espx state add src 10.88.0.1 dst 10.88.0.2 \
	proto esp spi 0x2006 aead "$AEAD" 0x$KEY128 128
check_rc state_esn_needs_window 2 'replay-window' espx state add src 10.88.0.1 dst 10.88.0.2 \
	proto esp spi 0x2007 aead "$AEAD" 0x$KEY128$SALT128 128 flag esn
check_rc state_update_refused 2 'delete it and add it again' espx state update src 10.88.0.1 \
	dst 10.88.0.2 proto esp spi 0x1001 aead "$AEAD" 0x$KEY128$SALT128 128
check refusals_install_nothing test "$(json_get "$(sa_json)" 'sorted(s["spi"] for s in j)')" = "[4096, 4097]"
check_rc state_del_missing 1 'no SA dst 10.88.0.2 spi 0x00009999' espx state del dst 10.88.0.2 proto esp spi 0x9999
check_rc state_del_usage 2 "'spi" espx state del dst 10.88.0.2 proto esp
check_rc state_list_extra 2 "unexpected 'dst'" espx state list dst 10.88.0.2
check_rc state_unknown_sub 2 "unknown command 'frob'" espx state frob

# ---- state del ----
check_rc state_del_ipv6 0 '^$' espx state delete src 2001:db8::1 dst 2001:db8::2 proto esp spi 4096
check state_del_gone test "$(json_get "$(sa_json)" '[s["spi"] for s in j]')" = "[4097]"

# ---- policies resolve to SAs ----
check_rc policy_add_tunnel 0 '^$' espx policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out \
	ptype main tmpl src 10.88.0.1 dst 10.88.0.2 proto esp reqid 5 mode tunnel
check policy_resolves_sa test "$(resolved out)" = 4097
pj=$(pol_json)
check policy_list_json test "$(json_get "$pj" "(j[0]['src'], j[0]['dst'], j[0]['dir'], j[0]['action'], j[0]['tmpl']['mode'], j[0]['tmpl']['reqid'], j[0]['sa']['dst'])")" = \
	"('10.1.0.0/16', '10.2.0.0/16', 'out', 'allow', 'tunnel', 5, '10.88.0.2')"
check_rc policy_duplicate 1 'exists' espx policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out \
	tmpl src 10.88.0.1 dst 10.88.0.2 proto esp reqid 5 mode tunnel
check_rc policy_unsupported_mark 2 "'mark'" espx policy add src 10.3.0.0/16 dst 10.4.0.0/16 \
	dir out mark 7 tmpl src 10.88.0.1 dst 10.88.0.2 proto esp mode tunnel
check_rc policy_transport_needs_host 2 'transport template' espx policy add \
	src 10.3.0.0/16 dst 10.4.0.0/16 dir out tmpl proto esp
check policy_refusals_add_nothing test "$(json_get "$(pol_json)" 'len(j)')" = 1

# a second matching SA: the newest wins, as the kernel prefers during a rekey
sleep 0.01
espx state add src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x1002 reqid 5 mode tunnel \
	aead "$AEAD" 0x$KEY256$SALT256 128 >/dev/null 2>&1
check newest_sa_wins test "$(resolved out)" = 4098
# one that does not match the template changes nothing
espx state add src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x1003 reqid 6 mode tunnel \
	aead "$AEAD" 0x$KEY128$SALT128 128 >/dev/null 2>&1
espx state add src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x1004 reqid 5 mode transport \
	aead "$AEAD" 0x$KEY128$SALT128 128 >/dev/null 2>&1
check other_reqid_or_mode_ignored test "$(resolved out)" = 4098
espx state del dst 10.88.0.2 proto esp spi 0x1002 >/dev/null
check delete_falls_back_to_older test "$(resolved out)" = 4097
espx state del dst 10.88.0.2 proto esp spi 0x1001 >/dev/null
check delete_leaves_policy_without_sa test "$(resolved out)" = 0
check policy_text_says_none grep -q 'sa none (no usable SA: packets are dropped)' \
	<<<"$(run espx policy list)"

# a template naming the SPI takes only that SA
espx state add src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x1005 reqid 5 mode tunnel \
	aead "$AEAD" 0x$KEY128$SALT128 128 >/dev/null 2>&1
check policy_add_spi_tmpl espx policy add src 10.5.0.0/16 dst 10.6.0.0/16 dir in \
	tmpl src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x1003 mode tunnel
check tmpl_spi_pins_sa test "$(resolved in)" = 4099
check policy_out_resolves_new test "$(resolved out)" = 4101

# transport template with a host selector: the SA to the selector's dst
check policy_add_transport espx policy add src 10.88.0.1 dst 10.88.0.2 dir fwd \
	tmpl proto esp level use
check transport_tmpl_resolves test "$(resolved fwd)" = 4100

# order: priority, then age; each policy keeps a unique index
espx policy add src 10.7.0.0/16 dst 10.8.0.0/16 dir out priority 10 >/dev/null
espx policy add src 10.7.1.0/24 dst 10.8.0.0/16 dir out priority 5 action block >/dev/null
espx policy add src 10.7.2.0/24 dst 10.8.0.0/16 dir out priority 10 >/dev/null
pj=$(pol_json)
check policy_order test "$(json_get "$pj" "[p['src'] for p in j if p['dir'] == 'out']")" = \
	"['10.1.0.0/16', '10.7.1.0/24', '10.7.0.0/16', '10.7.2.0/24']"
check policy_unique_index test "$(json_get "$pj" 'len(set(p["index"] for p in j)) == len(j)')" = True
idx=$(json_get "$pj" "[p['index'] for p in j if p['src'] == '10.7.2.0/24'][0]")
check policy_del_by_index espx policy delete index "$idx" dir out
check policy_del_by_selector espx policy del src 10.7.1.0/24 dst 10.8.0.0/16 dir out
check_rc policy_del_missing 1 'no policy' espx policy del src 10.7.1.0/24 dst 10.8.0.0/16 dir out
check policy_after_deletes test "$(json_get "$(pol_json)" "[p['src'] for p in j if p['dir'] == 'out']")" = \
	"['10.1.0.0/16', '10.7.0.0/16']"
check policy_sa_kept_after_del test "$(resolved in)" = 4099

# ---- stats ----
sj=$(run espx -j stats)
names=$(grep -oE '^\s*X\([A-Z_0-9]+,\s*[0-9]+,\s*"[^"]+"' "$ROOT/include/espx_drop.h" |
	sed -E 's/.*"(.*)"/\1/' | sort | tr '\n' ' ')
check stats_json_in_reasons test "$(json_get "$sj" '" ".join(sorted(j["drops"]["in"])) + " "')" = "$names"
check stats_json_out_reasons test "$(json_get "$sj" '" ".join(sorted(j["drops"]["out"])) + " "')" = "$names"
check stats_json_counters test "$(json_get "$sj" 'all(set(c) == {"packets", "bytes"} for d in j["drops"].values() for c in d.values())')" = True
check stats_json_sas test "$(json_get "$sj" 'sorted(s["spi"] for s in j["sas"])')" = "[4099, 4100, 4101]"
check stats_json_sa_fields test "$(json_get "$sj" 'sorted(j["sas"][0])')" = \
	"['bytes', 'dst', 'hard_expired', 'integrity_failed', 'packets', 'replay', 'soft_expired', 'spi', 'use_time_ns']"
check stats_text grep -q 'SA dst 10.88.0.2 spi 0x00001005: 0 packets, 0 bytes, last use -' \
	<<<"$(run espx stats)"
check_rc stats_extra_arg 2 "unexpected 'x'" espx stats x

# ---- monitor without traffic ----
check_rc monitor_times_out 0 '^$' espx monitor --timeout 1
check_rc monitor_bad_count 2 "'--count' needs a number" espx monitor --count many
check_rc monitor_bad_arg 2 "unknown argument '--frob'" espx monitor --frob

# ---- keys: in no output, not in the pinned maps ----
dump=$(bpftool map dump pinned "$PIN/espx_sa" 2>&1; bpftool map dump pinned "$PIN/espx_sa_setup" 2>&1)
raw=$("$PY" - "$PIN" <<'EOF'
import json, subprocess, sys
# every byte of every value of both maps, as one hex string per entry
for m in ("espx_sa", "espx_sa_setup"):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", f"{sys.argv[1]}/{m}"],
                         capture_output=True, text=True).stdout
    for e in json.loads(out or "[]"):
        print("".join(b[2:] for b in e["value"]))
EOF
)
check map_dump_readable test -n "$raw"
leak=
for k in "${KEYS[@]}"; do
	grep -qi "$k" "$ALL_OUT" && leak+=" output:$k"
	grep -qi "$k" <<<"$dump" && leak+=" dump:$k"
	grep -qi "$k" <<<"$raw" && leak+=" raw:$k"
done
if [[ -z $leak ]]; then pass keys_never_shown; else fail keys_never_shown "found$leak"; fi

# ---- flush ----
check policy_flush espx policy flush
check policy_flush_empty test "$(json_get "$(pol_json)" 'len(j)')" = 0
espx policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out \
	tmpl src 10.88.0.1 dst 10.88.0.2 proto esp mode tunnel >/dev/null
check policy_readd_resolves test "$(resolved out)" = 4101
check state_flush espx state flush
check state_flush_empty test "$(json_get "$(sa_json)" 'len(j)')" = 0
check state_flush_unresolves test "$(resolved out)" = 0

# ---- lifetime events end to end (needs the datapath to account packets) ----
# Each set-up step is a check: if one fails, the checks after it fail too,
# and say so, rather than being skipped.
netns_add B clib
check lifetime_veth veth_pair "$A" va "$B" vb 10.77.0.1/24 10.77.0.2/24
in_b() { ip netns exec "$B" "$@"; }
check lifetime_policy_flush espx policy flush
for ns in "$A" "$B"; do
	s=${ns##*-}
	check "lifetime_state_add_0x301_$s" ip netns exec "$ns" "$ESPX" state add src 10.77.0.1 \
		dst 10.77.0.2 proto esp spi 0x301 reqid 3 aead "$AEAD" 0x$KEY128$SALT128 128 \
		limit packet-soft 2 limit packet-hard 4
	check "lifetime_state_add_0x302_$s" ip netns exec "$ns" "$ESPX" state add src 10.77.0.2 \
		dst 10.77.0.1 proto esp spi 0x302 reqid 3 aead "$AEAD" 0x$KEY256$SALT256 128
done
check lifetime_policy_out_a espx policy add src 10.77.0.1 dst 10.77.0.2 dir out tmpl proto esp reqid 3
check lifetime_policy_in_a espx policy add src 10.77.0.2 dst 10.77.0.1 dir in tmpl proto esp reqid 3
check lifetime_policy_out_b in_b "$ESPX" policy add src 10.77.0.2 dst 10.77.0.1 dir out tmpl proto esp reqid 3
check lifetime_policy_in_b in_b "$ESPX" policy add src 10.77.0.1 dst 10.77.0.2 dir in tmpl proto esp reqid 3
check lifetime_attach_a espx attach va
check lifetime_attach_b in_b "$ESPX" attach vb
MON=$(mktemp /tmp/espx-mon.XXXXXX)
# --backlog: events are kept in the ring until read, so it does not matter
# whether the monitor is reading yet when the ping starts
espx -j monitor --count 2 --timeout 15 --backlog >"$MON" 2>&1 &
mon_pid=$!
# hard limit 4: the first 4 requests leave, the last 2 are dropped
replies=$(in_a ping -c 6 -i 0.2 -W 1 10.77.0.2 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
check lifetime_ping_stops_at_hard_limit test "${replies:-none}" = 4
wait "$mon_pid"
mon_rc=$?
pkts=$(json_get "$(sa_json)" "[s['lifetime']['packets'] for s in j if s['spi'] == 0x301][0]")
check lifetime_sa_counted_packets test "${pkts:-none}" = 4
cat "$MON" >>"$ALL_OUT"
check monitor_exit test "$mon_rc" = 0
check monitor_events test "$("$PY" -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
print([(e["event"], e["dir"], e["spi"], e["dst"]) for e in ev])' "$MON")" = \
	"[('soft', 'out', 769, '10.77.0.2'), ('hard', 'out', 769, '10.77.0.2')]"
check stats_expired_flags test "$(json_get "$(run espx -j stats)" "[(s['soft_expired'], s['hard_expired']) for s in j['sas'] if s['spi'] == 0x301][0]")" = "(True, True)"
check stats_hard_limit_drops test "$(json_get "$(run espx -j stats)" 'j["drops"]["out"]["hard-limit"]["packets"] > 0')" = True
# rekey: the policy follows the new SA
check lifetime_state_del_0x301_a espx state del dst 10.77.0.2 proto esp spi 0x301
check lifetime_state_del_0x301_b in_b "$ESPX" state del dst 10.77.0.2 proto esp spi 0x301
for ns in "$A" "$B"; do
	check "lifetime_state_add_0x303_${ns##*-}" ip netns exec "$ns" "$ESPX" state add \
		src 10.77.0.1 dst 10.77.0.2 proto esp spi 0x303 reqid 3 aead "$AEAD" \
		0x$KEY128$SALT128 128 limit packet-soft 1
done
check policy_follows_rekey test "$(resolved out)" = 771
# a text monitor: events already read are not shown again (--backlog shows
# all that nobody read; the two above were read), a new one is one line
espx monitor --count 1 --timeout 15 --backlog >"$MON" 2>&1 &
mon_pid=$!
check lifetime_ping_after_rekey in_a ping -c 3 -i 0.2 -W 1 -q 10.77.0.2
wait "$mon_pid"
cat "$MON" >>"$ALL_OUT"
check monitor_text_line grep -qxE \
	'spi 0x00000303 dst 10\.77\.0\.2: soft limit reached \([0-9]+ packets, [0-9]+ bytes\)' "$MON"
check monitor_text_one_line test "$(wc -l <"$MON")" = 1
# without --backlog: an event from before the monitor started is not shown
# (soft limit 1: the second packet crosses it)
for ns in "$A" "$B"; do
	check "lifetime_state_add_0x304_${ns##*-}" ip netns exec "$ns" "$ESPX" state add \
		src 10.77.0.1 dst 10.77.0.2 proto esp spi 0x304 reqid 3 aead "$AEAD" \
		0x$KEY128$SALT128 128 limit packet-soft 1
done
check lifetime_ping_0x304 in_a ping -c 2 -i 0.2 -W 1 -q 10.77.0.2
check lifetime_0x304_soft_expired test "$(json_get "$(run espx -j stats)" "[s['soft_expired'] for s in j['sas'] if s['spi'] == 0x304][0]")" = True
check_rc monitor_skips_older_events 0 '^$' espx monitor --timeout 1
rm -f "$MON"

# ---- ACQUIRE reports: outbound traffic on a policy without SA is dropped and
# reported (espx monitor), at most once a second per policy and destination ----
espx policy add src 10.77.0.1 dst 10.77.9.0/24 dir out \
	tmpl src 10.77.0.1 dst 10.77.0.2 proto esp reqid 9 mode tunnel >/dev/null
in_a ip route add 10.77.9.0/24 via 10.77.0.2
acq_idx=$(json_get "$(pol_json)" "[p['index'] for p in j if p['dst'] == '10.77.9.0/24'][0]")
MON=$(mktemp /tmp/espx-mon.XXXXXX)
espx -j monitor --timeout 5 >"$MON" 2>&1 &
mon_pid=$!
sleep 0.5
drops0=$(json_get "$(run espx -j stats)" 'j["drops"]["out"].get("policy-without-sa", {}).get("packets", 0)')
t0=$(date +%s.%N)
in_a ping -q -c 250 -i 0.01 -w 3 10.77.9.9 >/dev/null 2>&1
t1=$(date +%s.%N)
drops1=$(json_get "$(run espx -j stats)" 'j["drops"]["out"].get("policy-without-sa", {}).get("packets", 0)')
wait "$mon_pid"
cat "$MON" >>"$ALL_OUT"
check acquire_flood_dropped test $((drops1 - drops0)) -ge 100
check acquire_events "$PY" -c '
import json, math, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
acq = [e for e in ev if e["event"] == "acquire"]
secs = math.ceil(float(sys.argv[3]) - float(sys.argv[2]))
want = dict(dir="out", index=int(sys.argv[4]), policy_dir="out", family="inet", src="10.77.0.1",
            dst="10.77.9.9", proto="icmp", sport=8, dport=0,
            tmpl=dict(src="10.77.0.1", dst="10.77.0.2", reqid=9, spi=0, mode="tunnel"))
ok = 1 <= len(acq) <= secs + 1 and all({k: e[k] for k in want} == want for e in acq)
print(len(acq), "events in", secs, "s:", acq[:1], file=sys.stderr)
sys.exit(0 if ok else 1)' "$MON" "$t0" "$t1" "$acq_idx"
# text: one line per report
sleep 1.1	# past the interval of the last report
espx monitor --count 1 --timeout 5 >"$MON" 2>&1 &
mon_pid=$!
sleep 0.5
in_a ping -q -c 3 -i 0.2 -w 2 10.77.9.9 >/dev/null 2>&1
wait "$mon_pid"
cat "$MON" >>"$ALL_OUT"
check acquire_text_line grep -qxE "acquire: policy index $acq_idx dir out: 10\.77\.0\.1 -> 10\.77\.9\.9 proto icmp sport 8 dport 0; tmpl src 10\.77\.0\.1 dst 10\.77\.0\.2 reqid 9 mode tunnel" "$MON"
rm -f "$MON"

# daemon: bad options are refused by name before anything is touched
check_rc daemon_no_such_device 2 "no device named 'nosuch0'" espx daemon dev nosuch0
check_rc daemon_interval_range 2 "interval '5'" espx daemon --interval 5
check_rc daemon_rcvbuf_range 2 "rcvbuf '12'" espx daemon --rcvbuf 12
check_rc daemon_unknown_word 2 "unexpected 'sideways'" espx daemon sideways
check_rc bench_needs_ab 2 "usage: espx bench ab" espx bench
leak=
for k in "${KEYS[@]}"; do grep -qi "$k" "$ALL_OUT" && leak+=" $k"; done
if [[ -z $leak ]]; then pass keys_never_shown_traffic; else fail keys_never_shown_traffic "found$leak"; fi
