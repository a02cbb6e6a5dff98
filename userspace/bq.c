/* bq: see bq.h. */
#include "bq.h"

#include <stdlib.h>
#include <string.h>

struct bq_block {
	struct bq_block *next;
	size_t len;
	char data[BQ_BLOCK];
};

bool bq_append(struct bq *q, const void *p, size_t n)
{
	const char *src = p;
	struct bq_block *first_new = NULL, *last_new = NULL, *t = q->tail;
	size_t room = t ? BQ_BLOCK - t->len : 0, need, left;

	/* Allocate every block first: all or nothing. */
	need = n > room ? n - room : 0;
	while (need) {
		struct bq_block *b = malloc(sizeof(*b));

		if (!b) {
			while (first_new) {
				struct bq_block *nx = first_new->next;

				free(first_new);
				first_new = nx;
			}
			return false;
		}
		b->next = NULL;
		b->len = 0;
		if (last_new)
			last_new->next = b;
		else
			first_new = b;
		last_new = b;
		need -= need < BQ_BLOCK ? need : BQ_BLOCK;
	}
	left = n;
	if (t && room) {
		size_t k = left < room ? left : room;

		memcpy(t->data + t->len, src, k);
		t->len += k;
		src += k;
		left -= k;
	}
	for (struct bq_block *b = first_new; b; b = b->next) {
		size_t k = left < BQ_BLOCK ? left : BQ_BLOCK;

		memcpy(b->data, src, k);
		b->len = k;
		src += k;
		left -= k;
	}
	if (first_new) {
		if (t)
			t->next = first_new;
		else
			q->head = first_new;
		q->tail = last_new;
	}
	q->len += n;
	return true;
}

const char *bq_peek(const struct bq *q, size_t *n)
{
	if (!q->head) {
		*n = 0;
		return NULL;
	}
	*n = q->head->len - q->head_off;
	return q->head->data + q->head_off;
}

void bq_consume(struct bq *q, size_t n)
{
	q->len -= n;
	while (n && q->head) {
		size_t avail = q->head->len - q->head_off;

		if (n < avail) {
			q->head_off += n;
			return;
		}
		n -= avail;
		struct bq_block *b = q->head;

		q->head = b->next;
		q->head_off = 0;
		free(b);
	}
	if (!q->head)
		q->tail = NULL;
	else if (q->head_off == q->head->len && !q->head->next) {
		/* fully consumed last block: drop it so an empty queue owns nothing */
		free(q->head);
		q->head = q->tail = NULL;
		q->head_off = 0;
	}
}

void bq_clear(struct bq *q)
{
	while (q->head) {
		struct bq_block *b = q->head;

		q->head = b->next;
		free(b);
	}
	q->tail = NULL;
	q->head_off = 0;
	q->len = 0;
}
