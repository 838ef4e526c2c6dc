/* SPDX-License-Identifier: GPL-2.0 */
/* Every map the espx datapath shares with user space. Pinned by name under
 * ESPX_PIN_DIR by `espx attach` (or by xdp-loader --pin-path). */
#ifndef ESPX_BPF_MAPS_H
#define ESPX_BPF_MAPS_H

#include "compat.h"
#include "espx_sa.h"
#include "espx_crypto.h"
#include "espx_drop.h"
#include "espx_event.h"
#include "espx_policy.h"
#include "espx_daemon.h"

/* Maps are pinned by name (under ESPX_PIN_DIR by espx, or the --pin-path of
 * xdp-loader) so every program and every espx command shares them. Test
 * objects define ESPX_NO_PIN to keep their maps private. */
#ifdef ESPX_NO_PIN
#define ESPX_PINNED
#else
#define ESPX_PINNED __uint(pinning, LIBBPF_PIN_BY_NAME);
#endif

/* SAs, keyed like xfrm_state; deleting the element releases the crypto
 * context. Not preallocated: a preallocated map costs every namespace that
 * loads espx ESPX_MAX_SA entries (1.5 KiB each) whether it holds one SA or
 * none; allocated elements cost only the SAs installed. Only user space
 * inserts (the datapath looks up), so an allocation failure is an error
 * `espx state add` or the daemon reports, never a packet's. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPX_MAX_SA);
	__type(key, struct espx_sa_key);
	__type(value, struct espx_sa);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_sa SEC(".maps");

/* One request slot for the SA set-up programs (key material passes through
 * here for one BPF_PROG_TEST_RUN and is wiped by user space right after). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct espx_sa_setup_req);
	ESPX_PINNED
} espx_sa_setup SEC(".maps");

/* SAs the netlink daemon leaves to the kernel, and why. Only user space
 * reads and writes it; it is pinned with the rest so listings see it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPX_MAX_SA);
	__type(key, struct espx_sa_key);
	__type(value, struct espx_kernel_sa);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_kernel_sa SEC(".maps");

/* Per SA identity, the highest output sequence number espx may have used
 * (user space only; the datapath never touches it). It outlives the SA's
 * entry in espx_sa: every delete records the SA's oseq here first, and
 * every install starts above it, so an SA removed and installed again (a
 * `state del`, a failed replace, a resync) never repeats a number under
 * its key. A plain hash, not LRU: an entry must not vanish while its SA
 * might come back. Bound: an entry per SA identity espx or the kernel
 * holds; the daemon drops those neither holds at each resync, so 4x
 * ESPX_MAX_SA leaves room for identities deleted between resyncs. The
 * pins go with `espx unload` (which hands the numbers back first). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * ESPX_MAX_SA);
	__type(key, struct espx_sa_key);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_sa_hwm SEC(".maps");

/* Per SA identity, where espx jumped when a device was detached while espx
 * kept sending on others (handover_give(1)): the kernel numbers below the
 * value, espx above it. User space only. It outlives the daemon, so a
 * restarted daemon never raises the kernel's number into espx's (the push
 * of each interval); the last detach (the kernel gets everything) and the
 * SA's removal delete the entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPX_MAX_SA);
	__type(key, struct espx_sa_key);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_sa_split SEC(".maps");

/* Drops and pass-throughs by reason and direction (per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ESPX_DROP__MAX * ESPX_DIR__MAX);
	__type(key, __u32);
	__type(value, struct espx_drop_count);
	ESPX_PINNED
} espx_drops SEC(".maps");

/* Policies: two halves of ESPX_POL__MAX directions x ESPX_MAX_POLICY slots,
 * in priority order (espx_policy.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ESPX_POL_SLOTS);
	__type(key, __u32);
	__type(value, struct espx_policy);
	ESPX_PINNED
} espx_policy SEC(".maps");

/* Hashed policies by class and masked addresses, both halves, and up to
 * two summaries per policy (espx_policy.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 3 * 2 * ESPX_POL__MAX * ESPX_MAX_HASH_POLICY);
	__type(key, struct espx_pol_hash_key);
	__type(value, struct espx_policy);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_policy_hash SEC(".maps");

/* Candidate scanned policies by address prefix, both halves
 * (espx_policy.h). The trie needs BPF_F_NO_PREALLOC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, ESPX_POL_LPM_MAX);
	__type(key, struct espx_pol_lpm_key);
	__type(value, struct espx_pol_bits);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_pol_lpm SEC(".maps");

/* Candidate scanned policies by protocol and port (espx_policy.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ESPX_POL_BIN_MAX);
	__type(key, struct espx_pol_bin_key);
	__type(value, struct espx_pol_bits);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_pol_bin SEC(".maps");

/* Address pairs whose UDP 500/4500 is IKE (espx_policy.h); the value is
 * unused. Rebuilt by user space with the policy table. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * ESPX_MAX_SA + 2 * ESPX_POL__MAX * ESPX_MAX_POLICY);
	__type(key, struct espx_ike_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	ESPX_PINNED
} espx_ike SEC(".maps");

/* Which policy half is live, and how many policies each holds. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct espx_config);
	ESPX_PINNED
} espx_config SEC(".maps");

/* Events for user space: lifetimes, ACQUIREs (espx_event.h). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ESPX_EVENTS_SIZE);
	ESPX_PINNED
} espx_events SEC(".maps");

/* When each (policy, destination) last reported an ACQUIRE (acquire.h):
 * the rate limit. LRU: an entry is only a timestamp, and one pushed out
 * costs at most an early report. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, ESPX_ACQ_MAX);
	__type(key, struct espx_acq_key);
	__type(value, __u64);
	ESPX_PINNED
} espx_acq SEC(".maps");

/* GSO segmenter (user/platform/segment.h): attached device's ifindex -> the veth
 * that segments its protected GSO packets, and that veth's peer -> the
 * attached device the segments go back out of. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u32);
	ESPX_PINNED
} espx_seg SEC(".maps");

/* The pod fast path (bpf/lib/redirect.h): pod veths (node side) that
 * `espx attach DEV --redirect` enabled, by ifindex, as XDP redirect targets. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
	ESPX_PINNED
} espx_redirect SEC(".maps");

/* The daemon's heartbeat (include/espx_daemon.h): written and read by user
 * space only, pinned here so that it lives and dies with this namespace's
 * datapath state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct espx_daemon_hb);
	ESPX_PINNED
} espx_daemon SEC(".maps");

static __always_inline struct espx_sa *sa_lookup(const struct espx_sa_key *key)
{
	return bpf_map_lookup_elem(&espx_sa, key);
}

#endif
