/* SPDX-License-Identifier: GPL-2.0 */
/* The datapath handle: the code that loads the BPF object, pins it and
 * takes the pins away again. A struct espx_dp opens each object of the one
 * table (objects.h) on first use and keeps it open until espx_dp_close(),
 * like a skeleton's skel->maps.*. Where the pins live is pins.h's business. */
#ifndef ESPX_DATAPATH_H
#define ESPX_DATAPATH_H

#include <stddef.h>
#include "espx_sa.h"
#include "platform/objects.h"

/* Open objects; -1 where not (yet) opened. */
struct espx_dp {
	int fd[ESPX_OBJ__COUNT];
};

void espx_dp_init(struct espx_dp *dp);
/* fd of o, opened on first use; -errno after saying that espx is not
 * loaded or what else went wrong. The handle keeps the fd. */
int espx_dp_fd(struct espx_dp *dp, enum espx_obj o);
/* The same without a message: for objects that may be absent (pins of an
 * older espx) where absence has its own meaning. */
int espx_dp_try(struct espx_dp *dp, enum espx_obj o);
void espx_dp_close(struct espx_dp *dp);
/* The installer's bundle (sa_install.h) from the handle: espx_sa and its
 * high-water marks; with install, also the set-up map and programs.
 * 0 or the first failing open's -errno (message printed). */
struct espx_sa_fds;
int espx_dp_sa_fds(struct espx_dp *dp, struct espx_sa_fds *fds, int install);

struct espx;	/* espx.skel.h */
/* Load the object with its maps pinned (reusing pinned ones) and pin the
 * SA set-up programs; with !links the packet programs are left out (not
 * verified): commands that only fill maps need the maps and the set-up
 * programs, and verifying the datapath costs each of them most of its time.
 * NULL and *err on failure. The caller holds espx_lock(). */
struct espx *espx_dp_load(int links, int *err);

/* The receive program alone, opened and not loaded, its maps the pinned
 * ones: for libxdp, which loads it as an extension of its dispatcher
 * (xdp_dispatch.h). The SA set-up programs must be pinned already (an
 * espx_dp_load first). NULL and *err on failure (message printed). */
struct espx *espx_dp_open_rx(int *err);

/* Load only the anchor program (no map, no other program) and attach it
 * to this network namespace: the link's fd, or -errno (message printed). */
int espx_dp_anchor_link(void);

/* What every load starts with: the kernel check (kcheck_require), then
 * espx_lock(). The lock's token, or -errno (message printed). */
int espx_load_lock(void);

/* Load the datapath and pin its maps and set-up programs without attaching
 * it anywhere (state and policy commands call it, so configuration may come
 * before attach). Loading again reuses what is pinned. Takes espx_lock()
 * itself. 0 or -errno. */
int espx_load(void);

/* Remove every pin (links detached first, the kernel's settings given back
 * on their devices), then the pin root. 0 or -errno. */
int espx_remove_all_pins(void);

/* Call fn for every SA, read under its lock (BPF_F_LOCK). Stops at and
 * returns fn's first nonzero return; -errno on a map error. */
typedef int (*sa_fn)(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx);
int sa_foreach(int sa_fd, sa_fn fn, void *ctx);
/* Keys of all SAs, sorted by sa_key_cmp (malloc'd; *n entries). */
int sa_keys_sorted(int sa_fd, struct espx_sa_key **keys, size_t *n);

#endif
