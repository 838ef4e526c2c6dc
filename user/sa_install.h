/* SPDX-License-Identifier: GPL-2.0 */
/* Installing an SA into the datapath maps: write the entry, create its
 * ecb(aes) context (syscall program), build its GHASH table (tc program).
 * Either the SA ends up complete, or nothing of it is left. */
#ifndef ESPX_SA_INSTALL_H
#define ESPX_SA_INSTALL_H

#include <stddef.h>
#include <stdint.h>
#include "espx_sa.h"

/* Which AES implementation the kernel uses under ecb(aes). */
enum espx_aes_driver {
	/* "ecb(aes)": the kernel's highest-priority AES cipher. On kernels
	 * without AES-NI that is aes-fixed-time (constant time); with AES-NI
	 * it is aes-aesni. Never aes-generic while aes-fixed-time is built. */
	ESPX_AES_KERNEL = 0,
	/* "ecb(aes-generic)": table-driven, about 2x faster than
	 * aes-fixed-time, but its memory accesses depend on the key and data
	 * (cache-timing side channel). Opt-in only. */
	ESPX_AES_GENERIC = 1,
};

const char *espx_aes_driver_algo(enum espx_aes_driver d);
/* "kernel" or "generic" -> enum; -EINVAL otherwise. */
int espx_aes_driver_parse(const char *s, enum espx_aes_driver *d);

/* File descriptors of the maps and programs the installer needs; any object
 * built from bpf/lib/sa_setup.h has them. */
struct espx_sa_fds {
	int sa_map;
	int setup_map;
	int crypto_init_prog;
	int ghash_init_prog;
};

/* Install `sa` (its ctx and htab are ignored) under `key` with AES key
 * aes_key (16, 24 or 32 bytes; the RFC 4106 salt is already in sa->salt).
 * replace: allow replacing an existing entry (its old context is released).
 * Returns 0 or -errno after printing one message naming the failing step. */
int espx_sa_install(const struct espx_sa_fds *fds, const struct espx_sa_key *key,
		    const struct espx_sa *sa, const uint8_t *aes_key, size_t key_len,
		    enum espx_aes_driver driver, int replace);

/* Remove an SA; the kernel releases its crypto context. -ENOENT if absent. */
int espx_sa_remove(const struct espx_sa_fds *fds, const struct espx_sa_key *key);

#endif
