/* wsframe: see wsframe.h. A byte-driven reader: a frame header is gathered (2 to 14 bytes)
 * whatever way the bytes are split, then its payload is passed over or appended to the
 * message, unmasked on the way. */
#include "wsframe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

void wsframe_init(struct wsframe *w, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->cap = cap;
}

void wsframe_free(struct wsframe *w)
{
	free(w->msg);
	w->msg = NULL;
	w->msg_len = 0;
}

static int broken(struct wsframe *w, const char *why)
{
	w->state = WSF_BROKEN;
	snprintf(w->why, sizeof(w->why), "%s", why);
	wsframe_free(w);
	return -1;
}

/* head_need - bytes the header gathered so far says it has (2 until the second byte is in). */
static size_t head_need(const struct wsframe *w)
{
	size_t need = 2;

	if (w->head_len < 2)
		return need;
	if ((w->head[1] & 0x7f) == 126)
		need += 2;
	else if ((w->head[1] & 0x7f) == 127)
		need += 8;
	if (w->head[1] & 0x80)
		need += 4;
	return need;
}

/* frame_begin - the header is whole: check it and set up for its payload. Returns 0 or -1. */
static int frame_begin(struct wsframe *w)
{
	const unsigned char *h = w->head;
	unsigned len7 = h[1] & 0x7f;
	bool rsv1 = h[0] & 0x40;
	size_t i = 2;

	w->fin = h[0] & 0x80;
	w->opcode = h[0] & 0x0f;
	w->masked = h[1] & 0x80;
	w->control = w->opcode >= 8;
	if (h[0] & 0x30)
		return broken(w, "RSV2 or RSV3 set");
	if (w->opcode != WS_CONT && w->opcode != WS_TEXT && w->opcode != WS_BINARY &&
	    w->opcode != WS_CLOSE && w->opcode != WS_PING && w->opcode != WS_PONG)
		return broken(w, "reserved opcode");
	if (len7 == 126) {
		w->left = (uint64_t)h[2] << 8 | h[3];
		i = 4;
	} else if (len7 == 127) {
		w->left = 0;
		for (i = 2; i < 10; i++)
			w->left = w->left << 8 | h[i];
		if (w->left >> 63)
			return broken(w, "64-bit length with its top bit set");
	} else {
		w->left = len7;
	}
	if (w->masked)
		memcpy(w->mask, h + i, 4);
	w->at = 0;
	if (w->control) {
		/* RFC 6455 section 5.5: whole, short, and never compressed */
		if (!w->fin || len7 > 125 || rsv1)
			return broken(w, "fragmented, long or compressed control frame");
		return 0;
	}
	if (w->opcode == WS_CONT) {
		if (!w->in_message)
			return broken(w, "continuation without a message");
		if (rsv1)
			return broken(w, "RSV1 on a continuation frame");
	} else {
		if (w->in_message)
			return broken(w, "new message inside a fragmented one");
		w->in_message = true;
		w->msg_opcode = w->opcode;
		w->msg_compressed = rsv1;
		w->msg_skipped = false;
		w->msg_len = 0;
	}
	if (!w->msg_skipped && w->left > w->cap - w->msg_len) {
		w->msg_skipped = true;
		wsframe_free(w);
	}
	if (!w->msg_skipped && w->left) {
		char *m = realloc(w->msg, w->msg_len + (size_t)w->left);

		if (!m) {
			w->msg_skipped = true;
			wsframe_free(w);
		} else {
			w->msg = m;
		}
	}
	return 0;
}

/* frame_end - the frame's payload is all in. */
static void frame_end(struct wsframe *w, wsframe_msg_cb cb, void *ctx)
{
	w->state = WSF_HEAD;
	w->head_len = 0;
	if (w->control) {
		if (w->opcode == WS_CLOSE) {
			w->state = WSF_CLOSED;
			wsframe_free(w);
		}
		return;
	}
	if (!w->fin)
		return;
	w->in_message = false;
	if (w->msg_skipped) {
		w->skipped++;
		return;
	}
	w->messages++;
	if (w->msg_compressed)
		w->compressed++;
	if (cb)
		cb(ctx, w->msg_opcode, w->msg ? w->msg : "", w->msg_len, w->msg_compressed);
	w->msg_len = 0;
}

int wsframe_feed(struct wsframe *w, const char *p, size_t n, wsframe_msg_cb cb, void *ctx)
{
	const unsigned char *b = (const unsigned char *)p;

	while (n > 0) {
		if (w->state == WSF_CLOSED)
			return 0;
		if (w->state == WSF_BROKEN)
			return -1;
		if (w->state == WSF_HEAD) {
			size_t need = head_need(w);

			while (n > 0 && w->head_len < need) {
				w->head[w->head_len++] = *b++;
				n--;
				need = head_need(w);
			}
			if (w->head_len < need)
				return 0;
			if (frame_begin(w) < 0)
				return -1;
			w->state = WSF_PAYLOAD;
		}
		if (w->state == WSF_PAYLOAD) {
			size_t take = w->left < n ? (size_t)w->left : n;

			if (take && !w->control && !w->msg_skipped) {
				char *dst = w->msg + w->msg_len;

				for (size_t i = 0; i < take; i++)
					dst[i] = (char)(w->masked ? b[i] ^ w->mask[(w->at + i) & 3]
								  : b[i]);
				w->msg_len += take;
			}
			w->at += take;
			w->left -= take;
			b += take;
			n -= take;
			if (w->left == 0)
				frame_end(w, cb, ctx);
		}
	}
	return w->state == WSF_BROKEN ? -1 : 0;
}
