/* targets: see targets.h. A chained hash on the address; every entry is installed once per
 * configured port, so the BPF side needs a single exact-match lookup per connect(). */
#include "targets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void addr_to_mapped(int family, const uint8_t *addr, uint8_t out[16])
{
	if (family == AF_INET) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, addr, 4);
	} else {
		memcpy(out, addr, 16);
	}
}

static bool addr_is_mapped(const uint8_t a[16])
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, prefix, 12) == 0;
}

const char *addr_format(const uint8_t a[16], char *buf, size_t len)
{
	if (addr_is_mapped(a))
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
	return buf;
}

static size_t bucket_of(const uint8_t a[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ a[i]) * 16777619u;
	return h % TARGETS_BUCKETS;
}

static void apply_all_ports(struct targets *t, const struct target_entry *e, bool add)
{
	struct mlx_target_key k = { 0 };
	size_t i;

	memcpy(k.addr, e->addr, 16);
	for (i = 0; i < t->nports; i++) {
		k.port = t->ports[i];
		if (t->apply && t->apply(t->apply_ctx, &k, e->provider_id, add) && add)
			t->apply_errors++;
	}
}

void targets_init(struct targets *t, const uint16_t *ports, size_t nports, unsigned min_ttl_s,
		  size_t max, targets_apply_fn apply, void *ctx)
{
	memset(t, 0, sizeof(*t));
	if (nports > MLX_MAX_TARGET_PORTS)
		nports = MLX_MAX_TARGET_PORTS;
	memcpy(t->ports, ports, nports * sizeof(*ports));
	t->nports = nports;
	t->min_ttl_s = min_ttl_s;
	t->max = max;
	t->apply = apply;
	t->apply_ctx = ctx;
}

const struct target_entry *targets_lookup(const struct targets *t, const uint8_t addr16[16])
{
	const struct target_entry *e;

	for (e = t->buckets[bucket_of(addr16)]; e; e = e->next)
		if (memcmp(e->addr, addr16, 16) == 0)
			return e;
	return NULL;
}

int targets_learn(struct targets *t, int family, const uint8_t *addr, uint16_t provider_id,
		  uint32_t ttl, const char *name, enum target_source src, int64_t now_ms)
{
	uint8_t a[16];
	struct target_entry *e;
	size_t b;
	int64_t expires;

	if ((family != AF_INET && family != AF_INET6) || provider_id == 0)
		return -EINVAL;
	addr_to_mapped(family, addr, a);
	if (ttl < t->min_ttl_s)
		ttl = t->min_ttl_s;
	expires = now_ms + (int64_t)ttl * 1000;
	b = bucket_of(a);
	for (e = t->buckets[b]; e; e = e->next) {
		if (memcmp(e->addr, a, 16) != 0)
			continue;
		if (expires > e->expires_ms)
			e->expires_ms = expires;
		if (e->provider_id != provider_id) {
			/* A shared address: the latest answer names the provider; SNI decides anyway. */
			e->provider_id = provider_id;
			apply_all_ports(t, e, true);
		}
		e->source = src;
		t->refreshed_total++;
		return 0;
	}
	if (t->count >= t->max)
		return -ENOSPC;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	memcpy(e->addr, a, 16);
	e->provider_id = provider_id;
	e->source = src;
	e->expires_ms = expires;
	strncpy(e->name, name ? name : "", sizeof(e->name) - 1);
	e->next = t->buckets[b];
	t->buckets[b] = e;
	t->count++;
	t->learned_total++;
	apply_all_ports(t, e, true);
	return 1;
}

static size_t remove_if(struct targets *t, bool all, int64_t now_ms)
{
	size_t n = 0, b;

	for (b = 0; b < TARGETS_BUCKETS; b++) {
		struct target_entry **pp = &t->buckets[b];

		while (*pp) {
			struct target_entry *e = *pp;

			if (all || e->expires_ms <= now_ms) {
				*pp = e->next;
				apply_all_ports(t, e, false);
				free(e);
				t->count--;
				n++;
			} else {
				pp = &e->next;
			}
		}
	}
	return n;
}

size_t targets_expire(struct targets *t, int64_t now_ms)
{
	size_t n = remove_if(t, false, now_ms);

	t->expired_total += n;
	return n;
}

void targets_clear(struct targets *t)
{
	remove_if(t, true, 0);
}

void targets_foreach(const struct targets *t, void (*fn)(const struct target_entry *, void *),
		     void *ctx)
{
	size_t b;
	const struct target_entry *e;

	for (b = 0; b < TARGETS_BUCKETS; b++)
		for (e = t->buckets[b]; e; e = e->next)
			fn(e, ctx);
}

void targets_reconfigure(struct targets *t, const uint16_t *ports, size_t nports,
			 unsigned min_ttl_s)
{
	size_t b;
	struct target_entry *e;

	if (nports > MLX_MAX_TARGET_PORTS)
		nports = MLX_MAX_TARGET_PORTS;
	for (b = 0; b < TARGETS_BUCKETS; b++)
		for (e = t->buckets[b]; e; e = e->next)
			apply_all_ports(t, e, false);
	memcpy(t->ports, ports, nports * sizeof(*ports));
	t->nports = nports;
	t->min_ttl_s = min_ttl_s;
	for (b = 0; b < TARGETS_BUCKETS; b++)
		for (e = t->buckets[b]; e; e = e->next)
			apply_all_ports(t, e, true);
}

void targets_rebind(struct targets *t, uint16_t (*provider_of)(const char *name, void *ctx),
		    void *ctx)
{
	size_t b;

	for (b = 0; b < TARGETS_BUCKETS; b++) {
		struct target_entry **pp = &t->buckets[b];

		while (*pp) {
			struct target_entry *e = *pp;
			uint16_t id = provider_of(e->name, ctx);

			if (id == 0) {
				*pp = e->next;
				apply_all_ports(t, e, false);
				free(e);
				t->count--;
				continue;
			}
			if (id != e->provider_id) {
				e->provider_id = id;
				apply_all_ports(t, e, true);
			}
			pp = &e->next;
		}
	}
}
