/* SPDX-License-Identifier: GPL-2.0 */
/* Base include for every espx BPF program: vmlinux.h (generated at build time
 * from the running kernel's BTF), libbpf helpers and the kfunc declarations.
 * We declare the kfuncs ourselves so the objects build with any bpftool's
 * vmlinux.h (7.5 emits prototypes, older ones do not). */
#ifndef ESPX_BPF_COMPAT_H
#define ESPX_BPF_COMPAT_H

#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET		2
#define AF_INET6	10
#endif
#ifndef ETH_P_IP
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#endif
#ifndef TC_ACT_OK
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
#endif
#ifndef TC_ACT_REDIRECT
#define TC_ACT_REDIRECT	7
#endif
#define ESPX_EBADMSG	74
#define ESPX_EINVAL	22
#define ESPX_ENOENT	2
#define ESPX_E2BIG	7
#define ESPX_EIO	5
#define ESPX_ENOPKG	65

extern struct bpf_crypto_ctx *
bpf_crypto_ctx_create(const struct bpf_crypto_params *params, u32 params__sz, int *err) __ksym;
extern void bpf_crypto_ctx_release(struct bpf_crypto_ctx *ctx) __ksym;
extern int bpf_crypto_encrypt(struct bpf_crypto_ctx *ctx, const struct bpf_dynptr *src,
			      const struct bpf_dynptr *dst, const struct bpf_dynptr *siv__nullable) __ksym;
extern int bpf_dynptr_from_skb(struct __sk_buff *s, u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern int bpf_dynptr_from_xdp(struct xdp_md *x, u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *p, u32 offset, void *buffer__opt,
			      u32 buffer__szk) __ksym;
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *p, u32 offset, void *buffer__opt,
				   u32 buffer__szk) __ksym;

#define bswap64 __builtin_bswap64

#endif
