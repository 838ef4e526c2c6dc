// SPDX-License-Identifier: GPL-2.0
/*
 * espx_aead: the kernel's own AES-GCM (RFC 4106) for espx's XDP and TC
 * programs, as kfuncs.
 *
 * The BPF crypto kfuncs only offer block ciphers, so espx builds GCM from
 * ecb(aes) and a GHASH in BPF. Where this module is loaded, espx hands each
 * SA's payload to the kernel's rfc4106(gcm(aes)) instead: AES-NI/VAES and
 * carry-less multiplication on x86. See include/espx_aead.h for the calls
 * and the buffer layout, docs/architecture.md for how espx chooses.
 *
 * Which implementation: the internal x86 one where the kernel has it
 * (6.12: "__rfc4106(gcm(aes))", CRYPTO_ALG_INTERNAL, usable only where
 * crypto_simd_usable() says so; seal and open then answer -EBUSY and espx
 * uses its own GCM for that packet), else the synchronous
 * "rfc4106(gcm(aes))" (6.16+: the AES-NI one; elsewhere a generic one).
 * The module parameter "driver" says which was taken.
 *
 * Contexts live in an xarray under a handle (index | generation << 32)
 * that is never reused while the module is loaded. BPF programs that call
 * these kfuncs hold a reference on the module, so it cannot be removed
 * while espx is attached; contexts left at removal are freed then.
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/btf_ids.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/scatterlist.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <crypto/aead.h>
#include <crypto/internal/aead.h>
#include <crypto/internal/simd.h>
#include <asm/simd.h>

#include "espx_aead.h"

#define AEAD_INTERNAL	"__rfc4106(gcm(aes))"
#define AEAD_SYNC	"rfc4106(gcm(aes))"
#define REQ_MAX		1024	/* the largest request context taken */
#define SG_MAX		(ESPX_AEAD_BUF_MAX / PAGE_SIZE + 2)

struct espx_aead_ctx {
	struct crypto_aead *tfm;
	u32 gen;
	u32 icv_len;
	struct rcu_work free_work;
};

static DEFINE_XARRAY_ALLOC1(contexts);
static u32 next_id, next_gen;
static DEFINE_MUTEX(create_lock);	/* next_id, next_gen */
static struct workqueue_struct *free_wq;

static bool internal;			/* the CRYPTO_ALG_INTERNAL implementation */
static unsigned int reqsize;
static void __percpu *reqs;		/* one request per CPU */

static char driver[CRYPTO_MAX_ALG_NAME];
module_param_string(driver, driver, sizeof(driver), 0444);
MODULE_PARM_DESC(driver, "the rfc4106(gcm(aes)) implementation in use (read only)");

/* Tests only: answer -EBUSY to every Nth call on a CPU, as where SIMD is not
 * usable, so that espx's fallback to its own GCM is exercised (0: never). */
static unsigned int busy_every;
module_param(busy_every, uint, 0600);
MODULE_PARM_DESC(busy_every, "tests: refuse every Nth call as if SIMD were busy (0: never)");
static DEFINE_PER_CPU(unsigned int, busy_tick);

static atomic_t live = ATOMIC_INIT(0);	/* contexts created and not yet ended */

static int live_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&live));
}

static const struct kernel_param_ops live_ops = { .get = live_get };
module_param_cb(contexts, &live_ops, NULL, 0444);
MODULE_PARM_DESC(contexts, "contexts in use, one per SA on this backend (read only)");

/* What the datapath asked of us, per CPU: what an operator (and the tests)
 * read to know the backend did the work, and how often it could not. */
struct call_stats {
	u64 seal, open, busy, bad_icv;
};
static DEFINE_PER_CPU(struct call_stats, call_stats);

static int stats_get(char *buf, const struct kernel_param *kp)
{
	struct call_stats t = {};
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct call_stats *c = per_cpu_ptr(&call_stats, cpu);

		t.seal += READ_ONCE(c->seal);
		t.open += READ_ONCE(c->open);
		t.busy += READ_ONCE(c->busy);
		t.bad_icv += READ_ONCE(c->bad_icv);
	}
	return sysfs_emit(buf, "seal %llu open %llu busy %llu bad_icv %llu\n",
			  t.seal, t.open, t.busy, t.bad_icv);
}

static const struct kernel_param_ops stats_ops = { .get = stats_get };
module_param_cb(stats, &stats_ops, NULL, 0444);
MODULE_PARM_DESC(stats, "calls done (seal, open), left to espx's GCM because SIMD was busy, and ICVs refused (read only)");

static struct crypto_aead *alloc_tfm(void)
{
	return internal ? crypto_alloc_aead(AEAD_INTERNAL, CRYPTO_ALG_INTERNAL,
					    CRYPTO_ALG_INTERNAL | CRYPTO_ALG_ASYNC)
			: crypto_alloc_aead(AEAD_SYNC, 0, CRYPTO_ALG_ASYNC);
}

static void ctx_free_work(struct work_struct *w)
{
	struct espx_aead_ctx *c = container_of(to_rcu_work(w), struct espx_aead_ctx, free_work);

	crypto_free_aead(c->tfm);	/* wipes the key schedule */
	kfree(c);
}

static struct espx_aead_ctx *ctx_get(u64 handle)
{
	struct espx_aead_ctx *c = xa_load(&contexts, (u32)handle);

	return c && c->gen == (u32)(handle >> 32) ? c : NULL;
}

/* A scatterlist over buf, which may be packet memory (linear map) or a map
 * value (per-CPU or vmalloc'ed memory): page by page. */
static int sg_map(struct scatterlist *sg, u8 *buf, u32 len)
{
	int n = 0;

	sg_init_table(sg, SG_MAX);
	while (len) {
		u32 off = offset_in_page(buf), chunk = min_t(u32, len, PAGE_SIZE - off);
		struct page *pg = is_vmalloc_addr(buf) ? vmalloc_to_page(buf) :
				  virt_addr_valid(buf) ? virt_to_page(buf) : NULL;

		if (!pg || n == SG_MAX)
			return -EFAULT;
		sg_set_page(&sg[n++], pg, chunk, off);
		buf += chunk;
		len -= chunk;
	}
	if (!n)
		return -EINVAL;
	sg_mark_end(&sg[n - 1]);
	return 0;
}

static void aead_request_zero(struct aead_request *req)
{
	memzero_explicit(aead_request_ctx(req), reqsize);
}

static int crypt(u64 handle, u8 *buf, u32 buf__sz, u32 aad_len, u32 data_len, bool enc)
{
	struct scatterlist sg[SG_MAX];
	struct espx_aead_ctx *c;
	struct aead_request *req;
	u32 total, every;
	int err;

	if (aad_len != 8 && aad_len != 12)
		return -EINVAL;
	rcu_read_lock();
	c = ctx_get(handle);
	if (!c) {
		err = -ENOENT;
		goto out;
	}
	/* data_len, as BPF gives it, is checked before it is added to */
	err = -EINVAL;
	if (data_len > ESPX_AEAD_BUF_MAX || buf__sz > ESPX_AEAD_BUF_MAX)
		goto out;
	total = aad_len + ESPX_AEAD_IV_LEN + data_len + c->icv_len;
	if (total > buf__sz)
		goto out;
	err = sg_map(sg, buf, total);
	if (err)
		goto out;
	/* the per-CPU request: no softirq (and, off PREEMPT_RT, no other task)
	 * can take it from under us on this CPU while bottom halves are off */
	local_bh_disable();
	every = READ_ONCE(busy_every);	/* once: root may set it to 0 meanwhile */
	if ((internal && !crypto_simd_usable()) ||
	    (every && this_cpu_inc_return(busy_tick) % every == 0)) {
		this_cpu_inc(call_stats.busy);
		local_bh_enable();
		err = -EBUSY;
		goto out;
	}
	req = this_cpu_ptr(reqs);
	aead_request_set_tfm(req, c->tfm);
	aead_request_set_callback(req, 0, NULL, NULL);
	/* the kernel's rfc4106 takes the IV as the last 8 bytes of the AD */
	aead_request_set_ad(req, aad_len + ESPX_AEAD_IV_LEN);
	aead_request_set_crypt(req, sg, sg, enc ? data_len : data_len + c->icv_len,
			       buf + aad_len);
	err = enc ? crypto_aead_encrypt(req) : crypto_aead_decrypt(req);
	aead_request_zero(req);
	if (!err && enc)
		this_cpu_inc(call_stats.seal);
	else if (!err)
		this_cpu_inc(call_stats.open);
	else if (err == -EBADMSG)
		this_cpu_inc(call_stats.bad_icv);
	local_bh_enable();
out:
	rcu_read_unlock();
	return err;
}

__bpf_kfunc_start_defs();

/**
 * bpf_espx_aead_create() - a context for one SA (syscall programs)
 * @p: key, salt and ICV length
 * @p__sz: sizeof(*p)
 *
 * Return: a handle (> 0), or -EINVAL (bad parameters), -ENOMEM, -ENOSPC
 * (handles used up), or the crypto API's error.
 */
__bpf_kfunc s64 bpf_espx_aead_create(const struct espx_aead_params *p, u32 p__sz)
{
	struct espx_aead_ctx *c;
	u32 id, klen;
	int err;

	if (p__sz != sizeof(*p) || p->flags || p->pad)
		return -EINVAL;
	klen = p->key_len;
	if (klen != 16 + ESPX_AEAD_SALT_LEN && klen != 24 + ESPX_AEAD_SALT_LEN &&
	    klen != 32 + ESPX_AEAD_SALT_LEN)
		return -EINVAL;
	if (p->icv_len != 8 && p->icv_len != 12 && p->icv_len != 16)
		return -EINVAL;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	c->icv_len = p->icv_len;
	c->tfm = alloc_tfm();
	if (IS_ERR(c->tfm)) {
		err = PTR_ERR(c->tfm);
		kfree(c);
		return err;
	}
	if (crypto_aead_reqsize(c->tfm) > reqsize) {
		err = -E2BIG;	/* another implementation than at load: reload the module */
		goto fail;
	}
	err = crypto_aead_setkey(c->tfm, p->key, klen) ?:
	      crypto_aead_setauthsize(c->tfm, p->icv_len);
	if (err)
		goto fail;
	INIT_RCU_WORK(&c->free_work, ctx_free_work);
	mutex_lock(&create_lock);
	c->gen = ++next_gen;
	err = xa_alloc_cyclic(&contexts, &id, c, xa_limit_31b, &next_id, GFP_KERNEL);
	mutex_unlock(&create_lock);
	if (err < 0)
		goto fail;
	atomic_inc(&live);
	return (s64)((u64)c->gen << 32 | id);
fail:
	crypto_free_aead(c->tfm);
	kfree(c);
	return err;
}

/**
 * bpf_espx_aead_destroy() - end a context (syscall programs)
 * @handle: from bpf_espx_aead_create()
 *
 * Calls under way finish with the old key; the memory goes after an RCU
 * grace period. Return: 0 or -ENOENT.
 */
__bpf_kfunc int bpf_espx_aead_destroy(u64 handle)
{
	struct espx_aead_ctx *c;

	xa_lock(&contexts);
	c = ctx_get(handle);
	if (c)
		__xa_erase(&contexts, (u32)handle);
	xa_unlock(&contexts);
	if (!c)
		return -ENOENT;
	atomic_dec(&live);
	queue_rcu_work(free_wq, &c->free_work);
	return 0;
}

/**
 * bpf_espx_aead_seal() - encrypt an ESP payload in place, append the ICV
 * @handle: the SA's context
 * @buf: AAD, IV, data and room for the ICV (include/espx_aead.h)
 * @buf__sz: bytes at @buf
 * @aad_len: 8, or 12 with ESN
 * @data_len: plaintext bytes (payload, padding, pad length, next header)
 *
 * Return: 0, -EBUSY (SIMD not usable here now), -ENOENT, -EINVAL.
 */
__bpf_kfunc int bpf_espx_aead_seal(u64 handle, void *buf, u32 buf__sz, u32 aad_len,
				   u32 data_len)
{
	return crypt(handle, buf, buf__sz, aad_len, data_len, true);
}

/**
 * bpf_espx_aead_open() - check the ICV and decrypt in place
 * @data_len: ciphertext bytes, without the ICV
 *
 * As bpf_espx_aead_seal(), and -EBADMSG when the ICV is wrong.
 */
__bpf_kfunc int bpf_espx_aead_open(u64 handle, void *buf, u32 buf__sz, u32 aad_len,
				   u32 data_len)
{
	return crypt(handle, buf, buf__sz, aad_len, data_len, false);
}

__bpf_kfunc_end_defs();

BTF_KFUNCS_START(espx_aead_setup_ids)
BTF_ID_FLAGS(func, bpf_espx_aead_create, KF_SLEEPABLE)
BTF_ID_FLAGS(func, bpf_espx_aead_destroy, KF_SLEEPABLE)
BTF_KFUNCS_END(espx_aead_setup_ids)

BTF_KFUNCS_START(espx_aead_packet_ids)
BTF_ID_FLAGS(func, bpf_espx_aead_seal)
BTF_ID_FLAGS(func, bpf_espx_aead_open)
BTF_KFUNCS_END(espx_aead_packet_ids)

static const struct btf_kfunc_id_set setup_set = {
	.owner = THIS_MODULE,
	.set = &espx_aead_setup_ids,
};

static const struct btf_kfunc_id_set packet_set = {
	.owner = THIS_MODULE,
	.set = &espx_aead_packet_ids,
};

/* Which implementation, and how large its requests are. */
static int choose_impl(void)
{
	struct crypto_aead *tfm;

	internal = true;
	tfm = alloc_tfm();
	if (IS_ERR(tfm)) {
		internal = false;
		tfm = alloc_tfm();
		if (IS_ERR(tfm)) {
			pr_err("espx_aead: no synchronous %s: %ld\n", AEAD_SYNC, PTR_ERR(tfm));
			return PTR_ERR(tfm);
		}
	}
	strscpy(driver, crypto_tfm_alg_driver_name(crypto_aead_tfm(tfm)), sizeof(driver));
	reqsize = crypto_aead_reqsize(tfm);
	crypto_free_aead(tfm);
	if (reqsize > REQ_MAX) {
		pr_err("espx_aead: %s wants %u-byte requests\n", driver, reqsize);
		return -E2BIG;
	}
	return 0;
}

static int __init espx_aead_init(void)
{
	int err;

	err = choose_impl();
	if (err)
		return err;
	reqs = __alloc_percpu(sizeof(struct aead_request) + reqsize,
			      max_t(size_t, CRYPTO_MINALIGN, __alignof__(struct aead_request)));
	if (!reqs)
		return -ENOMEM;
	free_wq = alloc_workqueue("espx_aead", 0, 0);
	if (!free_wq) {
		free_percpu(reqs);
		return -ENOMEM;
	}
	err = register_btf_kfunc_id_set(BPF_PROG_TYPE_SYSCALL, &setup_set) ?:
	      register_btf_kfunc_id_set(BPF_PROG_TYPE_XDP, &packet_set) ?:
	      register_btf_kfunc_id_set(BPF_PROG_TYPE_SCHED_CLS, &packet_set);
	if (err) {
		destroy_workqueue(free_wq);
		free_percpu(reqs);
		return err;
	}
	pr_info("espx_aead: %s (%s)\n", driver,
		internal ? "internal, where SIMD is usable" : "synchronous");
	return 0;
}

static void __exit espx_aead_exit(void)
{
	struct espx_aead_ctx *c;
	unsigned long id;

	/* no program can call in any more: each held a reference on us */
	xa_for_each(&contexts, id, c) {
		xa_erase(&contexts, id);
		crypto_free_aead(c->tfm);
		kfree(c);
	}
	rcu_barrier();			/* queue_rcu_work's callbacks */
	destroy_workqueue(free_wq);	/* and the work they queued */
	free_percpu(reqs);
}

module_init(espx_aead_init);
module_exit(espx_aead_exit);
MODULE_DESCRIPTION("espx: the kernel's AES-GCM (RFC 4106) as kfuncs for XDP and TC");
/* the AES-NI implementations, where the CPU has them (modprobe only) */
MODULE_SOFTDEP("pre: aesni_intel");
MODULE_AUTHOR("the espx developers");
MODULE_LICENSE("GPL");
