/* SPDX-License-Identifier: GPL-2.0 */
/* How the commands show each object: one printer per object for both
 * text (the layout `ip xfrm` users know) and JSON (-j), over
 * common/print.h. Pure: fixed structs in, bytes out (tests/unit/test_show.c). */
#ifndef ESPX_SHOW_H
#define ESPX_SHOW_H

#include "espx_policy.h"
#include "espx_sa.h"
#include "common/print.h"

/* A selector's fields. unset_any: a selector without a family shows as
 * "src any dst any" (an SA's); else as prefixes of family inet (a
 * policy's). */
void sel_print(struct pw *p, const struct espx_sel *s, int unset_any);
/* An SA, as `ip xfrm state list` shows it (text) or one JSON object. */
void sa_print(struct pw *p, const struct espx_sa_key *key, const struct espx_sa *sa);
/* An SA's counters, as `espx stats` shows them. */
void sa_stats_print(struct pw *p, const struct espx_sa_key *key, const struct espx_sa *sa);
/* A policy and the SA its template resolves to. */
void pol_print(struct pw *p, const struct espx_policy *pol);

#endif
