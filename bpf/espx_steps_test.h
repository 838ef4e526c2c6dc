/* SPDX-License-Identifier: GPL-2.0 */
/* What the step test programs (espx_steps_test.bpf.c) take and report,
 * shared with their runner (tests/tools/steps_test.c). */
#ifndef ESPX_STEPS_TEST_H
#define ESPX_STEPS_TEST_H

#include "espx_sa.h"

/* Set by the runner before a run. */
struct espx_step_in {
	struct espx_sel sel;	/* t_selector: the selector to match */
	struct espx_sa_key sa;	/* t_replay: the SA whose window is used */
	__u32 seq_lo;		/* t_replay: the received sequence number */
	__u32 pad;
};

/* Filled by a run. */
struct espx_step_out {
	__s32 ret;		/* the result of the step that ended the run (counters.h) */
	__u32 step;		/* which step that was, from 1; 0: the parse failed */
	__u32 count_len;	/* the bytes the result would be counted over */
	__u32 too_big;		/* tx: the MTU a "too big" answer carries */
	__u32 redirect;		/* tx: STEP_REDIRECT's device */
	__u32 esp_off;		/* rx: where ESP starts */
	__u32 spi;		/* rx: the SPI read (network order) */
	__u32 l4_off;		/* parse */
	__u32 len;		/* parse: IP length */
	__u32 saddr[4];		/* parse */
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
	__u8  family;
	__u8  proto;
	__u8  frag;
	__u8  later;
	__u8  ext;
	__u8  ext_bad;
	__u8  noports;
	__u8  encap;		/* rx: ESP in UDP */
	__u64 seq;		/* t_replay: the inferred 64-bit number */
};

#endif
