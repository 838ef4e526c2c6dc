/* SPDX-License-Identifier: GPL-2.0 */
/* Constants shared by the BPF programs and user space.
 * Both sides include this: BPF after vmlinux.h, user space after <linux/types.h>. */
#ifndef ESPX_COMMON_H
#define ESPX_COMMON_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Under it, one directory per network namespace identity, net-<nsfs inode>,
 * holds that namespace's maps and links (user/platform/pins.h); the
 * directories are mode 0700, files 0600. */
#define ESPX_PIN_DIR		"/sys/fs/bpf/espx"

/* Largest ESP payload (plaintext incl. trailer) the GCM core handles, in
 * 16-byte blocks. 256 blocks = 4096 bytes: any packet on a 1500..4000 byte
 * MTU; bigger ones are dropped and counted (ESPX_DROP_TOO_BIG). */
#define ESPX_GCM_MAX_BLOCKS	256
#define ESPX_GCM_MAX_DATA	(ESPX_GCM_MAX_BLOCKS * 16)
#define ESPX_GCM_MAX_AAD	32	/* ESP needs 8 or 12; KATs up to 20 */
#define ESPX_GCM_ICV_LEN	16
#define ESPX_GCM_SALT_LEN	4	/* RFC 4106: last 4 bytes of the key material */
#define ESPX_ESP_IV_LEN		8

/* AES key lengths the kernel's ecb(aes) accepts. */
#define ESPX_AES_MAX_KEY	32

/* Maximum number of SAs (hash map size; the map is not preallocated, so
 * the bound costs its bucket array, not entries). */
#define ESPX_MAX_SA		65536

/* IPv6 that espx decrypted, told to the kernel (docs/strongswan.md, "IPv6").
 * Delivered locally, it meets the kernel's inbound policy check with no
 * secpath, and disable_policy on espx's device spares it only for that
 * device's own addresses. XDP puts ESPX_RX_META in the packet's metadata,
 * espx's tcx ingress program turns it into skb->mark ESPX_RX_MARK (and
 * clears that mark on anything else), and one kernel policy (dir in,
 * inet6, any, priority 0, this mark, no template; xnl_rx_mark_policy in
 * user/platform/xfrm_nl.c, added and removed by transition.c and the
 * daemon's xfrm_sync.c) accepts
 * exactly those packets; espx made the same decision itself, template
 * included, before. */
#define ESPX_RX_META		0x65737064U	/* "espd" */
#define ESPX_RX_MARK		0x65737078U	/* "espx" */

#endif
