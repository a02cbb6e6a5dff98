/* bq: a byte queue of fixed-size blocks, for body bytes in flight between the two sides of an
 * intercepted exchange. Appending copies; reading is by contiguous spans from the front. An empty
 * queue holds no memory, so idle exchanges cost nothing. Owns its blocks. */
#ifndef MODELUX_BQ_H
#define MODELUX_BQ_H

#include <stdbool.h>
#include <stddef.h>

#define BQ_BLOCK 16384

struct bq_block;

struct bq {
	struct bq_block *head, *tail;
	size_t head_off; /* bytes of head already consumed */
	size_t len;      /* bytes queued */
};

/* bq_append - copy <n> bytes of <p> to the end. false when out of memory (nothing appended). */
bool bq_append(struct bq *q, const void *p, size_t n);

/* bq_peek - the first contiguous span of queued bytes: its address, *<n> its length (0: empty). */
const char *bq_peek(const struct bq *q, size_t *n);

/* bq_consume - drop <n> (<= len) bytes from the front. */
void bq_consume(struct bq *q, size_t n);

/* bq_clear - drop everything and free the blocks. */
void bq_clear(struct bq *q);

#endif
