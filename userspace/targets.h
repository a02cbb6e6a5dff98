/* targets: the provider addresses the agent has learned (from DNS answers and its own
 * resolution), with their expiry, mirrored into the BPF targets map through <apply>.
 * Owns the entries; borrows nothing after targets_init. Single-threaded (main loop). */
#ifndef MODELUX_TARGETS_H
#define MODELUX_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>
#include "config.h"
#include "modelux.h"

enum target_source { TARGET_SRC_DNS = 1, TARGET_SRC_RESOLVER = 2 };

struct target_entry {
	struct target_entry *next;
	uint8_t addr[16]; /* v4-mapped for IPv4 */
	uint16_t provider_id;
	uint8_t source;
	int64_t expires_ms; /* CLOCK_MONOTONIC ms */
	char name[128];     /* the DNS name it was learned from */
};

/* Called for each (addr, port) key to install (add=true) or remove. Returns 0 or -errno. */
typedef int (*targets_apply_fn)(void *ctx, const struct mlx_target_key *k, uint16_t provider_id,
				bool add);

#define TARGETS_BUCKETS 1024

struct targets {
	struct target_entry *buckets[TARGETS_BUCKETS];
	size_t count;
	size_t max;
	uint16_t ports[MLX_MAX_TARGET_PORTS];
	size_t nports;
	unsigned min_ttl_s;
	targets_apply_fn apply;
	void *apply_ctx;
	uint64_t learned_total;  /* new addresses */
	uint64_t refreshed_total;
	uint64_t expired_total;
	uint64_t apply_errors;
};

void targets_init(struct targets *t, const uint16_t *ports, size_t nports, unsigned min_ttl_s,
		  size_t max, targets_apply_fn apply, void *ctx);

/* targets_learn - record that <addr> (AF_INET 4 bytes / AF_INET6 16 bytes) serves <provider_id>
 * for max(ttl, min_ttl) seconds from <now_ms>. Returns 1 when new, 0 when refreshed, -errno. */
int targets_learn(struct targets *t, int family, const uint8_t *addr, uint16_t provider_id,
		  uint32_t ttl, const char *name, enum target_source src, int64_t now_ms);

/* targets_expire - drop entries whose time has passed. Returns how many were dropped. */
size_t targets_expire(struct targets *t, int64_t now_ms);

/* targets_reconfigure - apply new ports / min TTL (reload): reinstalls every entry. */
void targets_reconfigure(struct targets *t, const uint16_t *ports, size_t nports,
			 unsigned min_ttl_s);

/* targets_lookup - the entry for <addr16> (v4-mapped form), or NULL. */
const struct target_entry *targets_lookup(const struct targets *t, const uint8_t addr16[16]);

/* targets_clear - remove everything (and from the BPF map). */
void targets_clear(struct targets *t);

/* targets_foreach - visit every entry. */
void targets_foreach(const struct targets *t, void (*fn)(const struct target_entry *, void *),
		     void *ctx);

/* addr_to_mapped - normalise an AF_INET/AF_INET6 address into the 16-byte form. */
void addr_to_mapped(int family, const uint8_t *addr, uint8_t out[16]);

/* addr_format - "1.2.3.4" or "2001:db8::1" for a 16-byte address. */
const char *addr_format(const uint8_t addr16[16], char *buf, size_t len);



/* targets_rebind - after a reload, recompute each entry's provider from the name it was learned
 * from with <provider_of> (returns id or 0); entries whose name no longer matches are removed. */
void targets_rebind(struct targets *t, uint16_t (*provider_of)(const char *name, void *ctx),
		    void *ctx);

#endif
