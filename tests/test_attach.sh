#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx attach/status/detach/unload on veth pairs in namespaces of our own:
# links pinned per namespace and root-only, clear errors for bad input,
# nothing left behind by a failed attach, detach or unload.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_attach
trap finish EXIT INT TERM

netns_add A a
netns_add B b
veth_pair "$A" va "$B" vb 10.99.0.1/24 10.99.0.2/24
PIN_A=$(pin_dir "$A")
PIN_B=$(pin_dir "$B")
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }

gso_segs() { ip -n "$1" -d link show "$2" | grep -o 'gso_max_segs [0-9]*' | cut -d' ' -f2; }
GSO_BEFORE=$(gso_segs "$A" va)
out=$(in_a "$ESPX" attach va 2>&1)
check attach_veth test $? = 0
[[ $out == *"attached to va"* ]] || fail attach_says_what "output: $out"

# `ip netns exec` gives espx a private /sys: the pins must still outlive it
js=$(in_a "$ESPX" -j status)
check status_json_loaded test "$(json_get "$js" 'j["loaded"]')" = True
check status_json_device test "$(json_get "$js" '[d["dev"] for d in j["devices"]]')" = "['va']"
check status_json_progs test "$(json_get "$js" 'min(j["devices"][0]["xdp_prog_id"], j["devices"][0]["tc_prog_id"]) > 0')" = True
check status_pin_dir_per_netns test "$(json_get "$js" 'j["pin_dir"]')" = "$PIN_A"
check status_text in_a "$ESPX" status
check xdp_on_device bash -c "ip -n $A -d link show va | grep -q 'prog/xdp'"
check tcx_on_device bash -c "ip netns exec $A bpftool net show dev va | grep -q 'tcx/egress espx_tc_tx'"

# root only: directories 0700, pins 0600
bad=$(find "$PIN_A" \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \) 2>&1)
if [[ -d $PIN_A && -z $bad ]]; then pass pins_root_only; else fail pins_root_only "dir=$PIN_A offending: $bad"; fi
check_fails pins_unreadable_by_nobody "ermission denied" \
	setpriv --reuid=65534 --regid=65534 --clear-groups ls "$PIN_A"

# placeholder datapath passes traffic both ways
check traffic_passes in_a ping -c 2 -i 0.2 -W 2 -q 10.99.0.2

check_fails attach_twice "already attached to va" in_a "$ESPX" attach va
check_fails attach_no_device "no device named 'nosuch'" in_b "$ESPX" attach nosuch
check_fails attach_bad_mode "invalid --xdp-mode 'turbo'" in_b "$ESPX" attach vb --xdp-mode turbo
check_fails attach_bad_option "unknown option '--frobnicate'" in_b "$ESPX" attach vb --frobnicate
check_fails attach_two_devices "one device per call" in_b "$ESPX" attach vb va
check_fails status_extra_arg "unexpected argument" in_b "$ESPX" status vb
check_fails unknown_command "unknown command 'bogus'" "$ESPX" bogus
check no_pins_after_bad_input test ! -e "$PIN_B"

# a failed attach leaves nothing: bridges have no native XDP
ip -n "$B" link add br0 type bridge && ip -n "$B" link set br0 up
check_fails attach_native_unsupported "no native XDP; use --xdp-mode generic" \
	in_b "$ESPX" attach br0 --xdp-mode native
check failed_attach_leaves_no_pins test ! -e "$PIN_B"
check failed_attach_leaves_no_tcx bash -c "! ip netns exec $B bpftool net show dev br0 | grep -q tcx"
in_b "$ESPX" attach br0 --xdp-mode generic >/dev/null
js=$(in_b "$ESPX" -j status)
check attach_generic test "$(json_get "$js" 'j["devices"][0]["xdp_mode"]')" = generic

# bpffs refuses '.' in pin names; device names may have one (eth0.100)
ip -n "$B" link add vc.1 type veth peer name vd.1 && ip -n "$B" link set vc.1 up &&
	ip -n "$B" link set vd.1 up
check attach_dotted_name in_b "$ESPX" attach vc.1
js=$(in_b "$ESPX" -j status)
check status_dotted_name test "$(json_get "$js" 'sorted(d["dev"] for d in j["devices"])')" = "['br0', 'vc.1']"
check detach_dotted_name in_b "$ESPX" detach vc.1

# another program's XDP is never replaced
FOREIGN=$(dpkg -L libxdp1 2>/dev/null | grep -m1 '/xdpfilt_alw_all.o$')
if [[ -n $FOREIGN ]] && in_b xdp-loader load -m skb vd.1 "$FOREIGN" >/dev/null 2>&1; then
	check_fails attach_over_foreign_xdp "vd.1 already has an XDP program" in_b "$ESPX" attach vd.1
	check foreign_xdp_kept bash -c "ip -n $B -d link show vd.1 | grep -q 'prog/xdp'"
	check foreign_xdp_no_tcx_left bash -c "! ip netns exec $B bpftool net show dev vd.1 | grep -q tcx"
	in_b xdp-loader unload vd.1 --all >/dev/null 2>&1
else
	skip attach_over_foreign_xdp "xdp-loader could not load libxdp's xdpfilt_alw_all.o here"
fi

check gso_max_segs_1_while_attached test "$(gso_segs "$A" va)" = 1
check segmenter_created bash -c "ip -n $A -o link show | grep -q espxs"
in_a "$ESPX" detach va >/dev/null
check detach_restores_gso_max_segs test "$(gso_segs "$A" va)" = "$GSO_BEFORE"
check detach_removes_segmenter bash -c "! ip -n $A -o link show | grep -q espxs"
check detach_removes_xdp bash -c "! ip -n $A -d link show va | grep -q 'prog/xdp'"
check detach_removes_tcx bash -c "! ip netns exec $A bpftool net show dev va | grep -q tcx"
check detach_removes_link_pins test -z "$(ls "$PIN_A/links")"
check_fails detach_twice "not attached to va" in_a "$ESPX" detach va

check unload in_b "$ESPX" unload
check unload_removes_pins test ! -e "$PIN_B"
check unload_detaches bash -c "! ip -n $B -d link show br0 | grep -q 'prog/xdp'"
check_fails unload_twice_says_so "espx is not loaded" in_b "$ESPX" unload
in_a "$ESPX" unload >/dev/null
check unload_a test ! -e "$PIN_A"

# The kernel's outbound policies and none in espx: attach would switch the kernel's
# IPsec off on the device with nothing in its place (plaintext), so it is refused.
# A bypass (allow, no template) protects nothing and does not count.
in_b ip xfrm policy add src 10.98.1.0/24 dst 10.98.2.0/24 dir out action allow
check attach_with_kernel_bypass_only in_b "$ESPX" attach vb
in_b "$ESPX" detach vb >/dev/null
in_b ip xfrm policy add src 10.98.3.0/24 dst 10.98.4.0/24 dir out \
	tmpl src 10.99.0.2 dst 10.99.0.1 proto esp reqid 7 mode tunnel
check_fails attach_refused_kernel_protects "1 outbound IPsec policies that protect.*espx daemon dev vb" \
	in_b "$ESPX" attach vb
check refused_attach_leaves_xdp_off bash -c "! ip -n $B -d link show vb | grep -q 'prog/xdp'"
check refused_attach_keeps_kernel_ipsec test "$(ip netns exec "$B" sysctl -n net.ipv4.conf.vb.disable_xfrm)" = 0
in_b ip xfrm policy flush
in_b "$ESPX" unload >/dev/null 2>&1

# --xdp-dispatcher: through libxdp. This kernel refuses extension programs, so libxdp
# attaches espx alone, and espx says so (the dispatcher itself: tests/vm/xdp_dispatcher.sh)
out=$(in_b "$ESPX" attach vb --xdp-dispatcher 2>&1)
check attach_xdp_dispatcher test $? = 0
[[ $out == *"through libxdp but alone"* ]] && pass attach_xdp_dispatcher_says_alone ||
	fail attach_xdp_dispatcher_says_alone "output: $out"
js=$(in_b "$ESPX" -j status)
check status_no_dispatcher_claimed test "$(json_get "$js" '[(d["dev"], d["xdp_dispatcher"], d["xdp_prog_id"] > 0) for d in j["devices"]]')" = "[('vb', False, True)]"
check detach_xdp_dispatcher in_b "$ESPX" detach vb
check detach_xdp_dispatcher_removes_xdp bash -c "! ip -n $B -d link show vb | grep -q 'prog/xdp'"
check_fails redirect_refuses_xdp_dispatcher "drop --xdp-dispatcher" in_b "$ESPX" attach vb --redirect --xdp-dispatcher
in_b "$ESPX" unload >/dev/null 2>&1
