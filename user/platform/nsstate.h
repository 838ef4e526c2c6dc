/* SPDX-License-Identifier: GPL-2.0 */
/* espx's state per network namespace identity, and its release.
 *
 * A namespace's pin directory is named after its nsfs inode (pins.h). The
 * inode alone is not proof of identity: a dead namespace's inode number is
 * reused by a later one. So each directory holds an ANCHOR, a pinned
 * BPF_LINK_TYPE_NETNS link of espx_anchor (bpf/espx.bpf.c, an sk_lookup
 * program returning SK_PASS), made in that namespace when its state is
 * first created. The link's info reports the namespace's inode while the
 * namespace lives and 0 forever once it is gone, and the pin does not keep
 * the namespace alive. A directory whose anchor reads its own inode belongs
 * to a live namespace; one whose anchor reads 0 belongs to a dead one and
 * is released: every link detached (a physical device goes back to the
 * root namespace when its namespace dies, still carrying espx's XDP and
 * tcx links), every pin removed (maps, programs, and with them the crypto
 * contexts, freed with their last reference), its /run/espx files
 * removed. */
#ifndef ESPX_NSSTATE_H
#define ESPX_NSSTATE_H

#include <net/if.h>
#include <stddef.h>

#define NS_MAX_DEVS	16

/* One namespace espx has (or had, until this sweep) state for. */
struct ns_entry {
	unsigned long ino;
	char name[64];			/* under /run/netns; "" if none */
	int alive;			/* 0: released by this sweep */
	int ndevs;
	char devs[NS_MAX_DEVS][IF_NAMESIZE + 8];
	long sas;			/* -1: no SA map */
};

/* Make sure root (this namespace's pin directory, pins.h) exists, mode
 * 0700, holding this namespace's anchor: created first, before any other
 * pin. A directory of the same name left by a dead namespace whose inode
 * this one reuses is released first. anchor_link() makes the anchor's link
 * (the datapath's espx_dp_anchor_link: the anchor is one of its programs).
 * The caller holds espx_lock(). */
int nsstate_prepare(const char *root, int (*anchor_link)(void));

/* The inode the anchor in dir reports: its namespace's, 0 once that is
 * gone; -ENOENT if dir has no anchor, or -errno. */
long nsstate_anchor_ino(const char *dir);

/* Release the state of every namespace that is gone, saying so at info
 * level, one line each. Directories espx does not recognise, and the
 * layout of older espx versions, are left alone. 0 or -ENOMEM. */
int nsstate_sweep(void);
/* espx_pins_bpffs(), and the first time it finds bpffs in this process,
 * nsstate_sweep(): so every command releases what dead namespaces left. */
int nsstate_bpffs(int mount_it);
/* Name the state of an older espx (one directory per namespace name) with
 * what to do about it; `espx attach` and `espx status` do. */
void nsstate_warn_old(void);
/* What this process's sweeps released (the first NS_MAX_RELEASED). */
#define NS_MAX_RELEASED	256
const struct ns_entry *nsstate_released(size_t *n);

/* Every live namespace espx has state for (malloc'd, caller frees). */
int nsstate_list(struct ns_entry **out, size_t *n);

/* SAs in the espx_sa map pinned at path; -1 if there is none. */
long nsstate_count_sas(const char *path);

#endif
