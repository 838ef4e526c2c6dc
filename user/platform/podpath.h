/* SPDX-License-Identifier: GPL-2.0 */
/* The pod fast path on a pod's veth, node side (`espx attach VETH
 * --redirect`; the datapath half is bpf/lib/redirect.h):
 *   - the veth becomes an XDP redirect target (espx_redirect), so that
 *     packets decrypted on the uplink go into it straight from XDP;
 *   - espx_pod_tx runs at its tcx ingress (link pinned as links/VETH:pod)
 *     and encrypts what the pod sends that a policy protects;
 *   - GRO is turned on at the pod's end of the pair if it was off: a veth
 *     takes XDP frames only while its peer's NAPI runs, which GRO (or an
 *     XDP program there) switches on, and otherwise drops them. The old
 *     value is saved in /run/espx and put back on detach.
 * The uplink must be attached first: encryption needs the uplink's SAs
 * and its GSO segmenter. */
#ifndef ESPX_PODPATH_H
#define ESPX_PODPATH_H

/* 0 or -errno (message printed; nothing left attached or changed). */
int pod_attach(const char *ifname);
/* 0, -ENOENT if the fast path is not on for ifname (nothing printed), or
 * another -errno. */
int pod_detach(const char *ifname);
/* Every pod device's link and saved setting (unload): links detached,
 * GRO given back where the pod's end still exists. */
void pod_detach_all(void);

#endif
