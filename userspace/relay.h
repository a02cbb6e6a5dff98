/* relay: moving an exchange's queued body bytes (bq.h) into what a protocol writes, shared by
 * the client-side and provider-side drivers: HTTP/1.1 bodies (raw or chunked) into a plaintext
 * buffer, HTTP/2 DATA into a stream as its window allows, and an HTTP/2 session's output into a
 * plaintext buffer. Owns nothing. */
#ifndef MODELUX_RELAY_H
#define MODELUX_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bq.h"
#include "h2conn.h"
#include "tlsio.h"

/* relay_to_h1 - move bytes of <q> into <out> while it has default room: raw, or one chunk per
 * piece when <chunked> (the last chunk is the caller's). Returns the payload bytes moved and adds
 * the bytes written to <out> to *<wire>. */
size_t relay_to_h1(struct bq *q, struct mbuf *out, bool chunked, uint64_t *wire);

/* relay_to_h2 - move bytes of <q> into stream <sid> of <h> as far as its send queue takes them;
 * with <end> (nothing more will be queued) the stream ends with the last byte, or alone when
 * <q> is already empty, and *<ended> turns true. Returns 1 on progress, else 0. */
int relay_to_h2(struct bq *q, struct h2conn *h, int32_t sid, bool end, bool *ended);

/* relay_h2_out - drain the output of <h> into <out> until it holds a default buffer's worth.
 * Returns 1 on progress, 0 when nothing was pending, -1 when the session failed; adds the
 * bytes to *<wire>. */
int relay_h2_out(struct h2conn *h, struct mbuf *out, uint64_t *wire);

#endif
