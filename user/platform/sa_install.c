// SPDX-License-Identifier: GPL-2.0
/* Installing and removing SAs in the datapath maps (sa_install.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "espx_crypto.h"
#include "platform/sa_install.h"
#include "common/log.h"
#include "common/util.h"

int espx_hwm_note(int hwm_fd, const struct espx_sa_key *key, __u64 oseq)
{
	__u64 cur;

	if (hwm_fd <= 0)
		return 0;
	/* only the command lock's holder writes it: read-modify-write is safe */
	if (!bpf_map_lookup_elem(hwm_fd, key, &cur) && cur >= oseq)
		return 0;
	if (bpf_map_update_elem(hwm_fd, key, &oseq, BPF_ANY)) {
		pr_warn("recording an SA's sequence number high-water mark: %s\n",
			strerror(errno));
		return -errno;
	}
	return 0;
}

static int run_setup_prog(const struct espx_sa_fds *fds, int prog_fd, const char *what,
			  int *aead_err);

/* End the AEAD backend's context `handle` of an SA already out of the map
 * (espx_sa_crypto_init with ESPX_SETUP_AEAD_RELEASE): the map cannot do it.
 * Packets that found the entry before may still ask for the handle; they
 * miss it and fall back to espx's own GCM, with the same key. */
static int aead_release(const struct espx_sa_fds *fds, __u64 handle)
{
	struct espx_sa_setup_req req;
	uint32_t zero = 0;
	int err;

	if (!handle)
		return 0;
	if (fds->setup_map < 0 || fds->crypto_init_prog < 0) {
		pr_warn("cannot end the AEAD context of a deleted SA: the set-up program is not pinned (it stays until rmmod espx_aead)\n");
		return -ENOENT;
	}
	memset(&req, 0, sizeof(req));
	req.op = ESPX_SETUP_AEAD_RELEASE;
	req.handle = handle;
	req.err = -EINPROGRESS;
	if (bpf_map_update_elem(fds->setup_map, &zero, &req, BPF_ANY)) {
		err = -errno;
		pr_warn("writing the AEAD release request: %s\n", strerror(-err));
		return err;
	}
	err = run_setup_prog(fds, fds->crypto_init_prog, "AEAD context release", NULL);
	if (err)
		pr_warn("ending the AEAD context of a deleted SA: %s\n", strerror(-err));
	return err;
}

/* Delete key from the SA map, noting its output number first. */
static int sa_delete(const struct espx_sa_fds *fds, const struct espx_sa_key *key)
{
	struct espx_sa *v = malloc(sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	/* read and unlink under the bucket lock: only programs that found the
	 * entry before can still number on it (ESPX_HWM_MARGIN) */
	if (bpf_map_lookup_and_delete_elem_flags(fds->sa_map, key, v, BPF_F_LOCK)) {
		err = -errno;
		if (err != -ENOENT) {
			/* a kernel without lookup-and-delete for this map */
			err = bpf_map_lookup_elem_flags(fds->sa_map, key, v, BPF_F_LOCK) ?
			      -errno : 0;
			if (!err && bpf_map_delete_elem(fds->sa_map, key))
				err = -errno;
		}
	}
	if (!err) {
		espx_hwm_note(fds->hwm_map, key, v->oseq);
		aead_release(fds, v->aead);
	}
	wipe(v, sizeof(*v));	/* the GHASH table is key material */
	free(v);
	return err;
}

/* Run one of the set-up programs and return the err it left in the request
 * (and its aead_err, where asked). */
static int run_setup_prog(const struct espx_sa_fds *fds, int prog_fd, const char *what,
			  int *aead_err)
{
	/* tc programs need a packet; 14 bytes of zeros is a minimal frame */
	uint8_t frame[14] = { 0 };
	struct espx_sa_setup_req req;
	uint32_t zero = 0;
	int err;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (prog_fd == fds->ghash_init_prog) {
		opts.data_in = frame;
		opts.data_size_in = sizeof(frame);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err) {
		err = -errno;
		pr_warn("running %s failed: %s\n", what, strerror(-err));
		return err;
	}
	if (bpf_map_lookup_elem(fds->setup_map, &zero, &req)) {
		err = -errno;
		pr_warn("reading %s result: %s\n", what, strerror(-err));
		return err;
	}
	err = req.err;
	if (aead_err)
		*aead_err = req.aead_err;
	wipe(&req, sizeof(req));
	return err;
}

int espx_sa_install(const struct espx_sa_fds *fds, const struct espx_sa_key *key,
		    const struct espx_sa *sa, const uint8_t *aes_key, size_t key_len,
		    enum espx_aes_driver driver, int replace)
{
	struct espx_sa_setup_req req;
	struct espx_sa val;
	uint32_t zero = 0;
	__u64 old_aead = 0;
	int err, werr, aead_err = 0;

	if (key_len != 16 && key_len != 24 && key_len != 32) {
		pr_warn("AES key must be 128, 192 or 256 bits, not %zu\n", key_len * 8);
		return -EINVAL;
	}
	if (sa->icv_len != 8 && sa->icv_len != 12 && sa->icv_len != 16) {
		pr_warn("ICV length must be 64, 96 or 128 bits, not %u\n", sa->icv_len * 8);
		return -EINVAL;
	}
	memcpy(&val, sa, sizeof(val));
	if (fds->hwm_map > 0) {
		__u64 hwm;
		int have = !bpf_map_lookup_elem(fds->hwm_map, key, &hwm);

		val.oseq = espx_hwm_start(sa->oseq, have ? hwm : 0, have);
		if (val.oseq != sa->oseq)
			pr_debug("SA spi 0x%08x: output continues above %llu (espx used up to %llu before, + %d)\n",
				 ntohl(key->spi), (unsigned long long)val.oseq,
				 (unsigned long long)hwm, ESPX_HWM_MARGIN);
		if (!(val.flags & ESPX_SA_F_ESN) && val.oseq >= 0xffffffffULL)
			pr_warn("SA spi 0x%08x: espx already used this SA's 32-bit sequence numbers up to %llu; it will not send on it (rekey, or use ESN)\n",
				ntohl(key->spi), (unsigned long long)hwm);
	}
	val.ctx = 0;
	val.aead = 0;
	val.flags &= ~ESPX_SA_F_READY;
	val.key_len = (uint8_t)key_len;
	memset(&val.ghkey, 0, sizeof(val.ghkey));
	if (replace) {
		/* the entry replaced: its AEAD context is ended after the update */
		struct espx_sa *cur = malloc(sizeof(*cur));

		if (cur && !bpf_map_lookup_elem(fds->sa_map, key, cur))
			old_aead = cur->aead;
		if (cur) {
			wipe(cur, sizeof(*cur));
			free(cur);
		}
	}
	if (bpf_map_update_elem(fds->sa_map, key, &val, replace ? BPF_ANY : BPF_NOEXIST)) {
		err = -errno;
		if (err == -EEXIST)
			pr_warn("SA with this dst/spi already exists; delete it first\n");
		else if (err == -E2BIG)
			pr_warn("SA table full (%d SAs)\n", ESPX_MAX_SA);
		else
			pr_warn("adding SA to map: %s\n", strerror(-err));
		return err;
	}
	aead_release(fds, old_aead);

	memset(&req, 0, sizeof(req));
	req.sa = *key;
	strcpy(req.params.type, "skcipher");
	snprintf(req.params.algo, sizeof(req.params.algo), "%s", espx_aes_driver_algo(driver));
	memcpy(req.params.key, aes_key, key_len);
	req.params.key_len = (uint32_t)key_len;
	memcpy(req.aead.key, aes_key, key_len);
	memcpy(req.aead.key + key_len, sa->salt, ESPX_AEAD_SALT_LEN);
	req.aead.key_len = (uint32_t)key_len + ESPX_AEAD_SALT_LEN;
	req.aead.icv_len = sa->icv_len;
	req.op = ESPX_SETUP_CREATE;
	req.err = -EINPROGRESS;
	err = bpf_map_update_elem(fds->setup_map, &zero, &req, BPF_ANY) ? -errno : 0;
	wipe(&req, sizeof(req));
	if (err) {
		pr_warn("writing crypto set-up request: %s\n", strerror(-err));
		goto fail;
	}
	err = run_setup_prog(fds, fds->crypto_init_prog, "crypto context set-up", &aead_err);
	/* The key leaves the map at once, whatever happened. */
	memset(&req, 0, sizeof(req));
	req.sa = *key;
	werr = bpf_map_update_elem(fds->setup_map, &zero, &req, BPF_ANY) ? -errno : 0;
	if (werr) {
		pr_warn("wiping crypto set-up request: %s\n", strerror(-werr));
		if (!err)
			err = werr;
	}
	if (err) {
		if (err == -ENOPKG)
			pr_warn("backend aead: the espx_aead module is not loaded, or was loaded after espx attached (load it, then espx unload and attach again; espx check says how)\n");
		else if (aead_err && err == aead_err)
			pr_warn("backend aead: espx_aead refused the SA's context: %s\n",
				strerror(-err));
		else if (err != -EIO && err != -ENOENT)
			pr_warn("kernel refused crypto context %s: %s\n",
				espx_aes_driver_algo(driver), strerror(-err));
		goto fail;
	}
	if (aead_err && aead_err != -ENOPKG)
		pr_warn("SA spi 0x%08x: espx_aead refused its context (%s); it runs on espx's own GCM\n",
			ntohl(key->spi), strerror(-aead_err));
	err = run_setup_prog(fds, fds->ghash_init_prog, "GHASH key set-up", NULL);
	if (err) {
		pr_warn("GHASH key set-up failed: %s\n", strerror(-err));
		goto fail;
	}
	return 0;
fail:
	/* a replace may already have dropped the old entry: keep its numbers */
	sa_delete(fds, key);
	return err;
}

int espx_sa_remove(const struct espx_sa_fds *fds, const struct espx_sa_key *key)
{
	return sa_delete(fds, key);
}

int espx_sa_release_all(const struct espx_sa_fds *fds)
{
	struct espx_sa_key key, next;
	struct espx_sa *v = malloc(sizeof(*v));
	int n = 0, first = 1;

	if (!v)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fds->sa_map, first ? NULL : &key, &next)) {
		first = 0;
		key = next;
		if (bpf_map_lookup_elem(fds->sa_map, &key, v) || !v->aead)
			continue;
		if (!aead_release(fds, v->aead))
			n++;
	}
	wipe(v, sizeof(*v));
	free(v);
	return n;
}
