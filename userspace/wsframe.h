/* wsframe: reads one direction of a WebSocket connection (RFC 6455 section 5) as it passes,
 * handing each whole data message (text or binary, its fragments joined, unmasked) to a
 * callback. Control frames are checked and skipped; a message longer than the cap is skipped
 * whole (counted); after a close frame, or bytes that are not WebSocket framing, nothing more is
 * read. Never buffers more than the cap, whatever the input. Owns its message buffer. */
#ifndef MODELUX_WSFRAME_H
#define MODELUX_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wsframe_state {
	WSF_HEAD = 0, /* reading a frame header */
	WSF_PAYLOAD,  /* reading a frame's payload */
	WSF_CLOSED,   /* a close frame went by: the rest is not read */
	WSF_BROKEN,   /* not WebSocket framing: the rest is not read */
};

struct wsframe {
	enum wsframe_state state;
	size_t cap; /* longest message kept */
	/* the frame being read */
	unsigned char head[14];
	size_t head_len;
	uint64_t left; /* payload bytes still to come */
	uint64_t at;   /* payload bytes of this frame seen (mask position) */
	unsigned char mask[4];
	bool masked, fin, control;
	int opcode;
	/* the message being assembled (data frames) */
	bool in_message;
	int msg_opcode;
	bool msg_compressed; /* RSV1 on its first frame: permessage-deflate */
	bool msg_skipped;    /* longer than the cap */
	char *msg;
	size_t msg_len;
	/* counts */
	uint64_t messages, skipped, compressed;
	char why[64]; /* what broke it, for WSF_BROKEN */
};

/* Called with each whole data message: opcode 1 (text) or 2 (binary), the unmasked payload,
 * and whether it is compressed (then the payload is the raw deflate data). */
typedef void (*wsframe_msg_cb)(void *ctx, int opcode, const char *payload, size_t len,
			       bool compressed);

/* wsframe_init - ready to read from the first byte after the 101, keeping messages of at
 * most <cap> bytes. */
void wsframe_init(struct wsframe *w, size_t cap);

/* wsframe_feed - read <n> more bytes; <cb> (may be NULL) gets each message completed. Returns
 * 0, or -1 once the stream is known not to be WebSocket framing (w->why says why). */
int wsframe_feed(struct wsframe *w, const char *p, size_t n, wsframe_msg_cb cb, void *ctx);

/* wsframe_free - the message buffer; <w> may be fed again only after wsframe_init. */
void wsframe_free(struct wsframe *w);

#endif
