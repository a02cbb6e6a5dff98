/* pinset: see pinset.h. A full table stops learning (counted by the caller's log) rather than
 * evicting: an evicted pair would be intercepted, and fail, once more. */
#include "pinset.h"

#include <string.h>

static uint64_t pair_hash(const char *exe, const char *sni)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
	const unsigned char *s;

	for (s = (const unsigned char *)exe; *s; s++)
		h = (h ^ *s) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull; /* separator no name byte can equal */
	for (s = (const unsigned char *)sni; *s; s++)
		h = (h ^ *s) * 1099511628211ull;
	return h ? h : 1;
}

void pinset_init(struct pinset *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
}

/* Linear probe from the hash; returns the slot holding <h> or the first empty one, or -1. */
static long probe(const struct pinset *p, uint64_t h)
{
	size_t i, s;

	for (i = 0; i < PINSET_SLOTS; i++) {
		s = (h + i) % PINSET_SLOTS;
		if (p->slot[s] == h || p->slot[s] == 0)
			return (long)s;
	}
	return -1;
}

bool pinset_add(struct pinset *p, const char *exe, const char *sni)
{
	uint64_t h = pair_hash(exe, sni);
	bool added = false;
	long s;

	pthread_mutex_lock(&p->lock);
	s = probe(p, h);
	if (s >= 0 && p->slot[s] == 0 && p->count < PINSET_SLOTS * 3 / 4) {
		p->slot[s] = h;
		p->count++;
		added = true;
	}
	pthread_mutex_unlock(&p->lock);
	return added;
}

bool pinset_has(struct pinset *p, const char *exe, const char *sni)
{
	uint64_t h = pair_hash(exe, sni);
	bool has;
	long s;

	pthread_mutex_lock(&p->lock);
	s = probe(p, h);
	has = s >= 0 && p->slot[s] == h;
	pthread_mutex_unlock(&p->lock);
	return has;
}
