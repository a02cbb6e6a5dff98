/* relay: see relay.h. */
#include "relay.h"

#include <string.h>

#include "h1.h"

/* Room kept for a chunk's framing ("<hex>\r\n" ... "\r\n"). */
#define CHUNK_OVERHEAD 24

size_t relay_to_h1(struct bq *q, struct mbuf *out, bool chunked, uint64_t *wire)
{
	size_t moved = 0;

	while (q->len && mbuf_room(out) > CHUNK_OVERHEAD + 64) {
		size_t n, room = mbuf_room(out) - CHUNK_OVERHEAD, k;
		const char *p = bq_peek(q, &n);
		char *t;

		if (n > room)
			n = room;
		t = mbuf_tail(out, n + CHUNK_OVERHEAD);
		if (!t)
			break;
		if (chunked) {
			k = (size_t)h1_write_chunk(t, n + CHUNK_OVERHEAD, p, n);
		} else {
			memcpy(t, p, n);
			k = n;
		}
		mbuf_commit(out, k);
		*wire += k;
		bq_consume(q, n);
		moved += n;
	}
	return moved;
}

int relay_to_h2(struct bq *q, struct h2conn *h, int32_t sid, bool end, bool *ended)
{
	int progress = 0;

	while (q->len) {
		size_t n, room = h2conn_send_room(h, sid);
		const char *p = bq_peek(q, &n);
		bool last;

		if (room == 0)
			return progress;
		if (n > room)
			n = room;
		last = end && n == q->len;
		if (h2conn_send_data(h, sid, p, n, last) < 0)
			return progress;
		bq_consume(q, n);
		progress = 1;
		if (last) {
			*ended = true;
			return 1;
		}
	}
	if (end && h2conn_send_data(h, sid, NULL, 0, true) == 0) {
		*ended = true;
		progress = 1;
	}
	return progress;
}

int relay_h2_out(struct h2conn *h, struct mbuf *out, uint64_t *wire)
{
	int progress = 0;

	while (h2conn_pending(h) && out->len < MBUF_DEFAULT) {
		size_t w = 0;
		char *t = mbuf_tail(out, MBUF_DEFAULT);

		if (!t || h2conn_drain(h, (uint8_t *)t, MBUF_DEFAULT, &w) < 0)
			return -1;
		mbuf_commit(out, w);
		*wire += w;
		if (w == 0)
			break;
		progress = 1;
	}
	return progress;
}
