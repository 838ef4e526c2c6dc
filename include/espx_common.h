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

/* Maximum number of SAs (hash map size). */
#define ESPX_MAX_SA		16384

#endif
