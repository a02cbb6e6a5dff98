/* h2conn: one HTTP/2 connection endpoint, either role, as a transport-agnostic wrapper around an
 * nghttp2 session: bytes in (h2conn_feed), bytes out (h2conn_drain), HTTP events as they stream.
 * Owns the session, per-stream send queues and received heads; borrows the caller's callbacks,
 * context and byte buffers. */
#ifndef MODELUX_H2CONN_H
#define MODELUX_H2CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hook.h" /* struct http_field */

/* Flow-control windows we advertise. The 64 KiB protocol default lets one stream move 64 KiB per
 * round trip (640 KB/s at 100 ms), far below what clients and providers get talking directly.
 * Since credit is returned only when the other side of the proxy has taken the bytes
 * (h2conn_window_consumed), the windows are also the memory bound of a relay: at most
 * H2_STREAM_WINDOW per stream and H2_CONN_WINDOW per connection can be in flight toward us.
 * 4 MiB per stream covers a 100 ms x 320 Mbit/s path; 16 MiB lets four streams run at that
 * speed at once while bounding what one connection can make us hold. */
#ifndef H2_CONN_WINDOW
#define H2_CONN_WINDOW (16u << 20)
#endif
#ifndef H2_STREAM_WINDOW
#define H2_STREAM_WINDOW (4u << 20)
#endif
/* SETTINGS_MAX_CONCURRENT_STREAMS of the server role. */
#ifndef H2_MAX_STREAMS
#define H2_MAX_STREAMS 128
#endif
/* A received header section (pseudo-fields included) may hold at most H2_MAX_FIELDS regular
 * fields and H2_MAX_HEAD bytes counted as SETTINGS_MAX_HEADER_LIST_SIZE counts them (name +
 * value + 32 per field; the value we advertise). Larger: the server role answers 431, the client
 * role cancels the stream. The same caps apply to what we submit. */
#ifndef H2_MAX_FIELDS
#define H2_MAX_FIELDS 128
#endif
#ifndef H2_MAX_HEAD
#define H2_MAX_HEAD 65536
#endif
/* Send queues (h2conn_send_data). Per stream the cap equals the receive window, and per
 * connection the connection window, so that a relay that returns credit only on data_sent can
 * always queue what its source may legally have sent: -EAGAIN then never happens to it. */
#ifndef H2_SEND_CAP
#define H2_SEND_CAP H2_STREAM_WINDOW
#endif
#ifndef H2_CONN_SEND_CAP
#define H2_CONN_SEND_CAP H2_CONN_WINDOW
#endif
/* Output produced while reading (SETTINGS/PING acks, WINDOW_UPDATE, a GOAWAY) is held here
 * until h2conn_drain(); beyond this nghttp2 keeps it. */
#ifndef H2_OUT_CAP
#define H2_OUT_CAP 16384
#endif

enum h2_role {
	H2_SERVER = 1, /* faces the client: receives requests, sends responses */
	H2_CLIENT = 2, /* faces the provider: sends requests, receives responses */
};

/* A received head. Every pointer is valid only during the callback; strings are NUL-terminated
 * and also have a length. Regular field names are lowercase (nghttp2 resets a stream whose
 * names are not, or that carries connection-specific fields). */
struct h2_head {
	/* requests; NULL/0 when absent (CONNECT has no scheme or path; authority is optional) */
	const char *method, *scheme, *authority, *path;
	size_t method_len, scheme_len, authority_len, path_len;
	int status; /* responses: the final status, 200..599 (interim 1xx heads are not reported) */
	const struct http_field *fields; /* regular fields, in arrival order */
	size_t nfields;
	bool end_stream; /* no body follows: the *_end event comes right after this one */
};

/* Events. Any member may be NULL. They run only inside h2conn_feed(), h2conn_pending() and
 * h2conn_drain(); they may call every h2conn function except h2conn_feed(), h2conn_pending(),
 * h2conn_drain() and h2conn_free(). Per stream: one head, data events in order as bytes arrive
 * (a DATA frame's payload, or the part of it read so far; never held back), then the end or a
 * stream_reset. Trailers are checked by nghttp2 and dropped (as h1 drops chunked trailers);
 * their END_STREAM ends the body. */
struct h2conn_callbacks {
	/* server role: a request head, its body as DATA frames arrive, its end */
	void (*request_head)(void *ctx, int32_t stream_id, const struct h2_head *h);
	void (*request_data)(void *ctx, int32_t stream_id, const char *data, size_t len);
	void (*request_end)(void *ctx, int32_t stream_id);
	/* client role: the final response head, its body, its end */
	void (*response_head)(void *ctx, int32_t stream_id, const struct h2_head *h);
	void (*response_data)(void *ctx, int32_t stream_id, const char *data, size_t len);
	void (*response_end)(void *ctx, int32_t stream_id);
	/* A stream the caller knows (server role: after request_head; client role: every submitted
	 * request) closed before both directions ended: reset by the peer, refused by a GOAWAY
	 * (REFUSED_STREAM), reset for a protocol error (PROTOCOL_ERROR: an invalid field, a body
	 * that contradicts content-length, a status outside 100..599), a response head over our
	 * caps (CANCEL), or cut short after a complete response (NO_ERROR). Not reported for
	 * h2conn_reset_stream(). The last event of the stream, which is already gone: calls on it
	 * return -ENOENT. */
	void (*stream_reset)(void *ctx, int32_t stream_id, uint32_t error_code);
	/* <len> bytes of the stream's send queue went out in DATA frames: its room grew by <len>.
	 * A relay returns that much credit to its source here (h2conn_window_consumed). */
	void (*data_sent)(void *ctx, int32_t stream_id, size_t len);
	/* The peer sent GOAWAY: streams above <last_stream_id> that we opened get stream_reset
	 * (REFUSED_STREAM) and may be retried elsewhere; no new request can be submitted. */
	void (*goaway)(void *ctx, uint32_t error_code, int32_t last_stream_id);
};

struct h2conn;

/* h2conn_new - an endpoint of <role> reporting to <cb> (copied) with <ctx>. Our SETTINGS and the
 * connection WINDOW_UPDATE (and for H2_CLIENT the connection preface) are queued at once: drain
 * them. Returns NULL with <err> filled when out of memory. */
struct h2conn *h2conn_new(enum h2_role role, const struct h2conn_callbacks *cb, void *ctx,
			  char *err, size_t errlen);

/* h2conn_free - release <c> and every stream; no event is reported. NULL is fine. */
void h2conn_free(struct h2conn *c);

/* h2conn_feed - hand over <len> bytes read from the transport (<in>). Events fire as frames
 * complete. Returns <len> (everything is consumed; partial frames are kept by nghttp2), or a
 * negative errno when the connection is dead: -EPROTO when the peer broke the protocol
 * (h2conn_error() says how; the GOAWAY telling the peer is queued: drain and write it, then
 * close), -ENOMEM. nghttp2 tells of a connection error only as its GOAWAY is produced, so
 * when more than H2_OUT_CAP bytes of output already wait undrained it shows later: in a next
 * h2conn_feed(), and as h2conn_want_io() turning false. A protocol error confined to one stream
 * resets that stream only. */
ssize_t h2conn_feed(struct h2conn *c, const uint8_t *in, size_t len);

/* h2conn_pending - bytes ready for the transport (0: nothing to write now). */
size_t h2conn_pending(struct h2conn *c);

/* h2conn_drain - copy up to <cap> bytes to write to the transport into <out>; *<written> says how
 * many. Call until it writes less than <cap> or the transport blocks. Returns 0, or a negative
 * errno when the session failed (-EPROTO/-ENOMEM, h2conn_error()). */
int h2conn_drain(struct h2conn *c, uint8_t *out, size_t cap, size_t *written);

/* h2conn_want_io - false once the connection is over: both sides said GOAWAY and no stream is
 * left, or it died, and everything to write has been drained. Then close the transport. */
bool h2conn_want_io(struct h2conn *c);

/* h2conn_remote_max_streams - the peer's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited: a large
 * number, until its SETTINGS arrive). */
uint32_t h2conn_remote_max_streams(struct h2conn *c);

/* h2conn_error - why the connection or the last refused call failed; "" when nothing did. */
const char *h2conn_error(const struct h2conn *c);

/* h2conn_submit_response - server role: answer stream <stream_id> with <status> (200..599) and
 * <nfields> <fields> (lowercase names, no connection-specific field). With <has_body> the body
 * follows through h2conn_send_data(); without, the stream ends with the head. Returns 0,
 * -EINVAL (bad status, name or value; h2conn_error() says which), -E2BIG (over H2_MAX_FIELDS or
 * H2_MAX_HEAD), -ENOENT (no such open stream), -EALREADY (already answered), -EPIPE (dead). */
int h2conn_submit_response(struct h2conn *c, int32_t stream_id, int status,
			   const struct http_field *fields, size_t nfields, bool has_body);

/* h2conn_submit_request - client role: open a stream for <method> <scheme>://<authority><path>
 * (NUL-terminated) with <nfields> <fields> as for h2conn_submit_response. With <has_body> the
 * body follows through h2conn_send_data(). Returns the new stream id (> 0), or -EINVAL (bad
 * pseudo-field, name or value; CONNECT is not supported), -E2BIG, -EPIPE (dead, or GOAWAY sent
 * or received: open a new connection), -ENOMEM. */
int32_t h2conn_submit_request(struct h2conn *c, const char *method, const char *scheme,
			      const char *authority, const char *path,
			      const struct http_field *fields, size_t nfields, bool has_body);

/* h2conn_send_data - queue <len> bytes of <data> (copied) as body of <stream_id>, and with
 * <end_stream> end the body after them (<len> may then be 0). They leave in DATA frames as the
 * peer's windows allow; bytes already queued may share a frame. All or nothing: returns 0,
 * -EAGAIN when the queue lacks room (h2conn_send_room(); call again after data_sent),
 * -EMSGSIZE when <len> exceeds H2_SEND_CAP, -ENOENT (no such open stream), -EINVAL (no body
 * was declared), -EPIPE (body already ended, stream reset, connection dead), -ENOMEM. */
int h2conn_send_data(struct h2conn *c, int32_t stream_id, const void *data, size_t len,
		     bool end_stream);

/* h2conn_send_room - bytes h2conn_send_data() would accept now on <stream_id> (0 when none or
 * the stream takes no body). A proxy reading an HTTP/1.1 body feeds at most this much. */
size_t h2conn_send_room(struct h2conn *c, int32_t stream_id);

/* h2conn_window_consumed - <n> bytes received on <stream_id> were taken by the other side of the
 * proxy: return that flow-control credit to the peer (WINDOW_UPDATE once enough accrued).
 * Credit of bytes never consumed is returned when their stream closes; calls for a closed
 * stream do nothing. Returns 0, or -ENOMEM. */
int h2conn_window_consumed(struct h2conn *c, int32_t stream_id, size_t n);

/* h2conn_reset_stream - abort <stream_id> with RST_STREAM <code> (an HTTP/2 error code, e.g.
 * NGHTTP2_CANCEL 0x8 or NGHTTP2_INTERNAL_ERROR 0x2). No more events for it. Returns 0, -ENOENT
 * (no such open stream), -EPIPE (dead), -ENOMEM. */
int h2conn_reset_stream(struct h2conn *c, int32_t stream_id, uint32_t code);

/* h2conn_goaway - graceful shutdown: GOAWAY NO_ERROR; open streams finish, no new one is
 * accepted (server role) or submitted (client role); h2conn_want_io() turns false once done.
 * Returns 0, -EPIPE (dead), -ENOMEM. */
int h2conn_goaway(struct h2conn *c);

/* h2conn_set_stream_user / h2conn_stream_user - the caller's pointer for an open <stream_id>
 * (NULL until set). set returns 0 or -ENOENT. */
int h2conn_set_stream_user(struct h2conn *c, int32_t stream_id, void *user);
void *h2conn_stream_user(struct h2conn *c, int32_t stream_id);

#endif
