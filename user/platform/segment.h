/* SPDX-License-Identifier: GPL-2.0 */
/* A segmenter for GSO packets that must be encrypted.
 *
 * Forwarded TCP arrives aggregated (GRO on another interface, or TSO from a
 * veth peer) and reaches TC egress as one super-packet, which cannot be
 * encrypted as such and which the kernel would only cut up after TC. So
 * for each attached device D espx keeps a veth pair espxs<D>a/espxs<D>b in
 * the same namespace: espx_tc_tx redirects a protected GSO packet to
 * espxs<D>a, whose gso_max_segs of 1 makes the kernel segment it on the
 * way out; each segment arrives at espxs<D>b, whose tcx ingress program
 * (espx_seg_rx) sends it back out of D, where espx_tc_tx encrypts it. The
 * pair carries no addresses and no IPv6, and goes with detach. */
#ifndef ESPX_SEGMENT_H
#define ESPX_SEGMENT_H

/* Create the pair for dev, attach prog_fd at tcx ingress of its b side,
 * pin that link (links/espxs<D>b:tc) and record both ifindexes in the
 * espx_seg map. 0 or -errno (message printed, nothing left). */
int seg_create(const char *dev, int prog_fd, int map_fd);
/* Remove the pair, its link pin and its map entries (map_fd may be -1).
 * dev_ifindex is the attached device's. */
void seg_destroy(unsigned int dev_ifindex, int map_fd);

#endif
