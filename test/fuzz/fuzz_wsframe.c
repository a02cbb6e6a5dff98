/* fuzz_wsframe: libFuzzer driver for wsframe.c, the WebSocket frame reader. Input: byte 0 picks
 * the message cap (bits 0-1: 0, 16, 1024, 1 MiB) and seeds the split points, the rest is the
 * byte stream of one direction after a 101. Beyond "no crash" it checks that the messages, the
 * counts and the verdict are the same whether the stream is fed whole, byte by byte or in
 * pseudo-random pieces; that no message is longer than the cap; that only text and binary
 * messages are delivered; and that nothing is delivered after a close frame or an error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/wsframe.c"

struct fuzz_log {
	uint64_t hash; /* FNV-1a over (opcode, compressed, length, bytes) of every message */
	size_t count, cap;
};

static void fuzz_on_msg(void *ctx, int opcode, const char *p, size_t len, bool compressed)
{
	struct fuzz_log *l = ctx;
	const unsigned char tag[3] = {(unsigned char)opcode, compressed, (unsigned char)len};

	if ((opcode != 1 && opcode != 2) || len > l->cap || (len && !p))
		abort();
	for (size_t i = 0; i < sizeof(tag) + len; i++) {
		l->hash ^= i < sizeof(tag) ? tag[i] : (unsigned char)p[i - sizeof(tag)];
		l->hash *= 1099511628211u;
	}
	l->count++;
}

struct fuzz_result {
	struct fuzz_log log;
	int rc;
	enum wsframe_state state;
	uint64_t messages, skipped, compressed;
};

/* fuzz_run - feed <data> in pieces of at most <piece> bytes (0: whole; else sizes drawn from
 * <seed> up to <piece>). */
static struct fuzz_result fuzz_run(const uint8_t *data, size_t size, size_t cap, size_t piece,
				   uint32_t seed)
{
	struct fuzz_result r = {.log = {.hash = 1469598103934665603u, .cap = cap}};
	struct wsframe w;
	int rc = 0;

	wsframe_init(&w, cap);
	for (size_t off = 0; off < size;) {
		size_t k = size - off;

		if (piece) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 8) % piece;
			if (k > size - off)
				k = size - off;
		}
		rc = wsframe_feed(&w, (const char *)data + off, k, fuzz_on_msg, &r.log);
		if (rc < 0 && w.state != WSF_BROKEN)
			abort();
		off += k;
	}
	/* After a close frame or broken framing, nothing more is read: not even a valid frame. */
	if (w.state == WSF_CLOSED || w.state == WSF_BROKEN) {
		size_t before = r.log.count;

		if (wsframe_feed(&w, "\x81\x01x", 3, fuzz_on_msg, &r.log) != rc ||
		    r.log.count != before)
			abort();
	}
	r.rc = rc;
	r.state = w.state;
	r.messages = w.messages;
	r.skipped = w.skipped;
	r.compressed = w.compressed;
	if (r.messages != r.log.count || (w.msg_len > cap))
		abort();
	wsframe_free(&w);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = {0, 16, 1024, 1 << 20};
	struct fuzz_result a, b, c;

	if (size < 1)
		return 0;
	a = fuzz_run(data + 1, size - 1, caps[data[0] & 3], 0, 0);
	b = fuzz_run(data + 1, size - 1, caps[data[0] & 3], 1, 0);
	c = fuzz_run(data + 1, size - 1, caps[data[0] & 3], 23, data[0]);
	if (a.log.hash != b.log.hash || a.log.hash != c.log.hash || a.rc != b.rc || a.rc != c.rc ||
	    a.state != b.state || a.state != c.state || a.messages != b.messages ||
	    a.messages != c.messages || a.skipped != b.skipped || a.skipped != c.skipped ||
	    a.compressed != b.compressed || a.compressed != c.compressed)
		abort();
	return 0;
}
