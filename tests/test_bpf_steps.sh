#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The datapath's steps one at a time, through BPF_PROG_TEST_RUN: fixture
# tables of packet in -> verdict, step result (drop reason, pass, go on) and
# packet out, for parsing (malformed and truncated IPv4/IPv6, extension
# headers, fragments), selectors, the replay window, receive up to the
# decryption (ESP and NAT-T found, SA checks, plaintext under in policies),
# and transmit up to the encryption (policy decisions, fragment rules, SA
# checks, "too big" answers, encapsulation layouts v4/v6 x tunnel/transport
# and NAT-T). The runner is build/tests/steps_test (tests/tools/steps_test.c,
# programs in bpf/espx_steps_test.bpf.c); it runs in a namespace of its own
# with a veth of MTU 1400, the device the "too big" fixtures exceed.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_bpf_steps
trap finish EXIT INT TERM
RUNNER=$BUILD/tests/steps_test
if [[ ! -x $RUNNER ]]; then
	fail bpf_steps "$RUNNER is missing (run make)"
	exit 1
fi
netns_add S steps
if ! ip -n "$S" link add st0 mtu 1400 type veth peer name st1 mtu 1400 ||
   ! ip -n "$S" link set st0 up; then
	fail bpf_steps_setup "a veth of MTU 1400 in $S"
	exit 1
fi
# PASS/FAIL per fixture and PLAN come from the runner; it prints SKIP and
# exits 2 only when BPF_PROG_TEST_RUN itself is unavailable
ip netns exec "$S" "$RUNNER" st0
rc=$?
case $rc in
0 | 2) ;;
*) _failed=1 ;;
esac
