/* SPDX-License-Identifier: GPL-2.0 */
/* Every object espx pins, named once.
 *
 * espx_objs[] (objects.c) is the one table of pinned maps and set-up
 * programs; each entry is checked against the skeleton at compile time, so
 * renaming a map in bpf/ breaks the build here instead of a command at run
 * time. Where the pins live is pins.h's business; opening and loading them
 * is datapath.h's. */
#ifndef ESPX_OBJECTS_H
#define ESPX_OBJECTS_H

#include <stddef.h>

enum espx_obj {
	/* maps (bpf/lib/maps.h), pinned by name in the pin root */
	ESPX_MAP_SA,
	ESPX_MAP_SA_SETUP,
	ESPX_MAP_KERNEL_SA,
	ESPX_MAP_SA_HWM,
	ESPX_MAP_SA_SPLIT,
	ESPX_MAP_DROPS,
	ESPX_MAP_POLICY,
	ESPX_MAP_POLICY_HASH,
	ESPX_MAP_POL_LPM,
	ESPX_MAP_POL_BIN,
	ESPX_MAP_IKE,
	ESPX_MAP_CONFIG,
	ESPX_MAP_EVENTS,
	ESPX_MAP_ACQ,
	ESPX_MAP_SEG,
	ESPX_MAP_REDIRECT,
	ESPX_MAP_DAEMON,
	/* SA set-up programs, pinned under progs/ by espx_dp_load() */
	ESPX_PROG_SA_CRYPTO_INIT,
	ESPX_PROG_SA_GHASH_INIT,
	ESPX_PROG_SA_SYNC,
	/* the namespace anchor (nsstate.h): its link, pinned as <root>/anchor
	 * by espx_dp_anchor(), before anything else */
	ESPX_LINK_ANCHOR,
	ESPX_OBJ__COUNT
};

/* The object's name in the BPF object and under the pin root. */
const char *espx_obj_name(enum espx_obj o);
/* Its pin path. */
void espx_obj_path(char *buf, size_t n, enum espx_obj o);

/* Open one object for the caller to close; -errno after saying that espx
 * is not loaded or what else went wrong. */
int espx_obj_open(enum espx_obj o);

struct espx;	/* espx.skel.h */
/* Its struct bpf_map * or struct bpf_program * in a skeleton. */
void *espx_obj_skel(struct espx *skel, enum espx_obj o);
/* Its pin subdirectory (ESPX_PIN_PROGS) or NULL (the pin root). */
const char *espx_obj_sub(enum espx_obj o);

#endif
