#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prometheus metrics with the real parts: `espx stats --prometheus` after
# traffic through a static SA and a policy without SA (counters equal to
# `espx -j stats`, every drop reason a series, SA direction, no key), checked
# by Debian's promtool; `espx daemon --metrics-file` read by Debian's
# prometheus-node-exporter (textfile collector) and scraped over the test
# namespace's loopback; a clean stop leaves espx_daemon_running 0.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_metrics
plan 13
DIR=$(mktemp -d /tmp/espx-metrics.XXXXXX)
DPID= XPID=
trap 'stop "$XPID"; stop "$DPID"; rm -rf "$DIR"; finish' EXIT INT TERM

netns_add A a
netns_add B b
veth_pair "$A" a0 "$B" b0 10.77.0.1/24 10.77.0.2/24
espx() { ip netns exec "$A" "$ESPX" "$@"; }
KEY=$(hexkey 20) KEYIN=$(hexkey 20)
AEAD="rfc4106(gcm(aes))"

espx attach a0 >/dev/null
espx state add src 10.77.0.1 dst 10.77.0.2 proto esp spi 0x100 reqid 1 mode tunnel \
	aead "$AEAD" "0x$KEY" 128
espx state add src 10.77.0.2 dst 10.77.0.1 proto esp spi 0x200 reqid 1 mode tunnel \
	aead "$AEAD" "0x$KEYIN" 128
espx policy add src 10.77.0.1/32 dst 10.77.0.2/32 dir out \
	tmpl src 10.77.0.1 dst 10.77.0.2 proto esp reqid 1 mode tunnel
espx policy add src 10.77.0.1/32 dst 10.77.0.3/32 dir out \
	tmpl src 10.77.0.1 dst 10.77.0.3 proto esp reqid 9 mode tunnel
ip -n "$A" neigh add 10.77.0.3 lladdr 02:00:00:00:00:03 dev a0
ip netns exec "$A" ping -c 3 -i 0.2 -W 1 10.77.0.2 >/dev/null 2>&1	# encrypted, B drops it
ip netns exec "$A" ping -c 2 -i 0.2 -W 1 10.77.0.3 >/dev/null 2>&1	# no SA: dropped

prom=$(espx stats --prometheus) rc=$?
check prom_exit_0 test $rc = 0
if ! command -v promtool >/dev/null; then
	fail promtool_check "promtool is missing: install Debian's prometheus (make deps)"
elif out=$(promtool check metrics <<<"$prom" 2>&1); then
	pass promtool_check
else
	fail promtool_check "$(echo "$out" | head -3)"
fi
# value METRIC{LABELS}: the sample's value
value() { awk -v k="$1" '$1 == k { print $2 }' <<<"$prom"; }
js=$(espx -j stats)
out_pk=$(value 'espx_sa_packets_total{spi="0x00000100",dst="10.77.0.2",dir="out"}')
out_js=$(json_get "$js" '[s["packets"] for s in j["sas"] if s["spi"] == 0x100][0]')
if [[ -n $out_pk && $out_pk -ge 3 && $out_pk == "$out_js" ]]; then pass "sa_out_packets ($out_pk)"
else fail sa_out_packets "prometheus '$out_pk', -j stats '$out_js' (want >= 3 and equal)"; fi
out_by=$(value 'espx_sa_bytes_total{spi="0x00000100",dst="10.77.0.2",dir="out"}')
by_js=$(json_get "$js" '[s["bytes"] for s in j["sas"] if s["spi"] == 0x100][0]')
check sa_out_bytes_equal test -n "$out_by" -a "$out_by" = "$by_js" -a "${out_by:-0}" -gt 0
check sa_in_direction test -n "$(value 'espx_sa_packets_total{spi="0x00000200",dst="10.77.0.1",dir="in"}')"
nosa=$(value 'espx_datapath_packets_total{dir="out",reason="policy-without-sa",verdict="drop"}')
nosa_js=$(json_get "$js" 'j["drops"]["out"]["policy-without-sa"]["packets"]')
if [[ -n $nosa && $nosa -ge 2 && $nosa == "$nosa_js" ]]; then pass "drop_by_reason ($nosa)"
else fail drop_by_reason "prometheus '$nosa', -j stats '$nosa_js' (want >= 2 and equal)"; fi
nreasons=$(json_get "$js" 'sum(len(v) - 1 for v in j["drops"].values())')	# "none" is not a series
nseries=$(grep -c '^espx_datapath_packets_total{' <<<"$prom")
check "every_reason_a_series ($nseries)" test "$nseries" = "$nreasons"
if grep -qi -e "$KEY" -e "$KEYIN" <<<"$prom"; then fail no_key_in_metrics "a key shows in the output"
else pass no_key_in_metrics; fi
check_fails prom_and_json_refused 'two formats' espx -j stats --prometheus

# --- the daemon's textfile, read by node_exporter (XFRM netlink, no ESP needed)
netns_add C c
espxc() { ip netns exec "$C" "$ESPX" "$@"; }
if ! ip -n "$C" xfrm policy list >/dev/null 2>&1; then
	for n in daemon_metrics_file node_exporter_scrape promtool_daemon_file daemon_stop_says_not_running; do
		skip "$n" "no XFRM netlink here (modprobe xfrm_user)"
	done
	exit 0
fi
espxc state add src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x1001 reqid 5 mode tunnel \
	aead "$AEAD" "0x$(hexkey 20)" 128 >/dev/null 2>&1
espxc state flush >/dev/null 2>&1	# maps loaded; the daemon mirrors the kernel's (none)
mkdir -p "$DIR/textfile"
ip netns exec "$C" "$ESPX" daemon --interval 100 --metrics-file "$DIR/textfile/espx.prom" \
	>"$DIR/daemon.log" 2>&1 &
DPID=$!
if wait_for 30 grep -q '^espx_daemon_running 1$' "$DIR/textfile/espx.prom" 2>/dev/null; then
	pass daemon_metrics_file
else
	fail daemon_metrics_file "no espx_daemon_running 1 in the file: $(tail -n 3 "$DIR/daemon.log")"
fi
if ! command -v prometheus-node-exporter >/dev/null; then
	fail node_exporter_scrape "prometheus-node-exporter is missing (make deps)"
else
	ip netns exec "$C" prometheus-node-exporter --web.listen-address=127.0.0.1:19100 \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$DIR/textfile" >"$DIR/ne.log" 2>&1 &
	XPID=$!
	scrape() {
		ip netns exec "$C" /usr/bin/python3 -c 'import urllib.request, sys
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:19100/metrics", timeout=5).read().decode())' \
			>"$DIR/scrape" 2>/dev/null
	}
	wait_for 20 scrape
	if grep -q '^espx_daemon_running 1$' "$DIR/scrape" && grep -q '^espx_sas 0$' "$DIR/scrape" &&
	   ! grep -q '^node_textfile_scrape_error 1' "$DIR/scrape"; then
		pass node_exporter_scrape
	else
		fail node_exporter_scrape "the scrape lacks espx's series or reports a textfile error: $(grep -E 'espx_daemon_running|textfile_scrape_error' "$DIR/scrape" | head -3; tail -n 2 "$DIR/ne.log")"
	fi
fi
if out=$(promtool check metrics <"$DIR/textfile/espx.prom" 2>&1); then pass promtool_daemon_file
else fail promtool_daemon_file "$(echo "$out" | head -3)"; fi
stop "$DPID"
DPID=
check daemon_stop_says_not_running grep -q '^espx_daemon_running 0$' "$DIR/textfile/espx.prom"
