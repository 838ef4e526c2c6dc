/* SPDX-License-Identifier: GPL-2.0 */
/* Installing an SA into the datapath maps: write the entry, create its
 * ecb(aes) context (syscall program), build its GHASH table (tc program).
 * Either the SA ends up complete, or nothing of it is left. */
#ifndef ESPX_SA_INSTALL_H
#define ESPX_SA_INSTALL_H

#include <stddef.h>
#include <stdint.h>
#include "espx_sa.h"
#include "model/sa_table.h"

/* File descriptors of the maps and programs the installer needs; any object
 * built from bpf/lib/sa_setup.h has them. */
struct espx_sa_fds {
	int sa_map;
	int setup_map;
	int crypto_init_prog;
	int ghash_init_prog;
	/* espx_sa_hwm (maps.h): > 0 to keep sequence numbers across a delete
	 * and a later install of the same SA identity; 0 or -1: none (the
	 * test harness's private maps) */
	int hwm_map;
};

/* Raise the recorded mark of key to at least oseq (never lowers it).
 * 0 or -errno; a missing map (fd <= 0) is 0. */
int espx_hwm_note(int hwm_fd, const struct espx_sa_key *key, __u64 oseq);

/* Install `sa` (its ctx and ghkey are ignored) under `key` with AES key
 * aes_key (16, 24 or 32 bytes; the RFC 4106 salt is already in sa->salt).
 * replace: allow replacing an existing entry (its old context is released).
 * Returns 0 or -errno after printing one message naming the failing step. */
int espx_sa_install(const struct espx_sa_fds *fds, const struct espx_sa_key *key,
		    const struct espx_sa *sa, const uint8_t *aes_key, size_t key_len,
		    enum espx_aes_driver driver, int replace);

/* Remove an SA; the kernel releases its ecb(aes) context, this its AEAD
 * backend's (sa->aead), where it has one. Its output number
 * goes into espx_sa_hwm first (read and unlinked in one step where the
 * kernel can). -ENOENT if absent. */
int espx_sa_remove(const struct espx_sa_fds *fds, const struct espx_sa_key *key);

/* End the AEAD backend's context of every SA in the map (they stay in it):
 * before the map itself goes, which cannot end them. The number ended. */
int espx_sa_release_all(const struct espx_sa_fds *fds);

#endif
