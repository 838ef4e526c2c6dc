/* SPDX-License-Identifier: GPL-2.0 */
/* `espx state add|del|list|flush`: SAs in the pinned espx_sa map, in
 * `ip xfrm state` syntax (xfrm_parse.h reads the words). */
#ifndef ESPX_STATE_H
#define ESPX_STATE_H

#include <stddef.h>
#include <stdio.h>
#include "espx_sa.h"

/* Exit code: 0, 1 (runtime error) or 2 (usage error). */
int state_cmd(int argc, char **argv, int json);
void state_usage(FILE *f);

/* Call fn for every SA, read under its lock (BPF_F_LOCK). Stops at and
 * returns fn's first nonzero return; -errno on a map error. */
typedef int (*sa_fn)(const struct espx_sa_key *key, const struct espx_sa *sa, void *ctx);
int sa_foreach(int sa_fd, sa_fn fn, void *ctx);

/* Keys of all SAs, sorted by family, dst, SPI (malloc'd; *n entries). */
int sa_keys_sorted(int sa_fd, struct espx_sa_key **keys, size_t *n);

/* CLOCK_BOOTTIME now, in ns (the clock the datapath stamps with). */
__u64 boot_ns(void);
/* A CLOCK_BOOTTIME stamp as local wall-clock time; "-" for 0. */
const char *boot_time_str(__u64 ns, char *buf, size_t n);

#endif
