/* pinset: (executable, SNI) pairs whose client refused our certificate (certificate pinning or
 * its own trust store). Such connections are spliced untouched from then on. Thread-safe; owns
 * its table. Kept in memory: a restarted agent learns them again with one refused handshake. */
#ifndef MODELUX_PINSET_H
#define MODELUX_PINSET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PINSET_SLOTS 4096

struct pinset {
	pthread_mutex_t lock;
	uint64_t slot[PINSET_SLOTS]; /* 64-bit hash of "exe\0sni"; 0 = empty (open addressing) */
	size_t count;
};

void pinset_init(struct pinset *p);
/* pinset_add - remember (exe, sni). Returns true when it was new. */
bool pinset_add(struct pinset *p, const char *exe, const char *sni);
bool pinset_has(struct pinset *p, const char *exe, const char *sni);

#endif
