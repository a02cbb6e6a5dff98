/* h2conn: see h2conn.h. nghttp2 does framing, HPACK, flow-control accounting and HTTP/2
 * messaging checks; this file maps its callbacks to request/response events, keeps per-stream
 * send queues behind deferred data providers, and returns window credit only when the caller
 * says the bytes were taken (no_auto_window_update), so backpressure crosses the proxy. */
#include "h2conn.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(H2_SEND_CAP >= H2_STREAM_WINDOW, "a relay must be able to queue a full window");
_Static_assert(H2_CONN_SEND_CAP >= H2_CONN_WINDOW, "a relay must be able to queue a full window");
_Static_assert(H2_STREAM_WINDOW <= H2_CONN_WINDOW, "stream window above connection window");
_Static_assert(H2_CONN_WINDOW <= 0x7fffffffu, "windows are 31-bit");

/* Send queues are lists of blocks of this size: a DATA frame (16 KiB by default) reads from one
 * or two blocks, and memory stays within one block of what is queued. */
#define H2_BLOCK 16384

/* Pseudo-fields we keep, by index. */
enum h2_pseudo {
	H2_PS_METHOD = 0,
	H2_PS_SCHEME,
	H2_PS_AUTHORITY,
	H2_PS_PATH,
	H2_PS_STATUS,
	H2_PS_COUNT,
};

static const char *const h2_pseudo_names[H2_PS_COUNT] = {":method", ":scheme", ":authority",
							 ":path", ":status"};

/* A head being received. Names and values stay in nghttp2's refcounted buffers (no copy) until
 * the head has been reported. */
struct h2_head_buf {
	nghttp2_rcbuf *refs[2 * (H2_MAX_FIELDS + H2_PS_COUNT)];
	size_t nrefs;
	struct http_field fields[H2_MAX_FIELDS];
	size_t nfields;
	nghttp2_vec pseudo[H2_PS_COUNT];
	size_t bytes; /* counted as SETTINGS_MAX_HEADER_LIST_SIZE counts */
	bool too_big;
};

struct h2_block {
	struct h2_block *next;
	size_t off, len; /* unread bytes are data[off..len) */
	char data[H2_BLOCK];
};

struct h2_stream {
	struct h2_stream *prev, *next;
	int32_t id;
	void *user;
	struct h2_head_buf *hb; /* while a head is arriving */
	struct h2_block *qhead, *qtail;
	size_t qlen;	   /* bytes queued to send */
	size_t unconsumed; /* bytes reported to the caller whose credit is not returned yet */
	bool surfaced;	   /* the caller knows this stream */
	bool head_done;	   /* the (final) head was reported */
	bool answered;	   /* server role: a response was submitted */
	bool has_body;	   /* we send a body through a data provider */
	bool eof_queued;   /* ... and its end is queued */
	bool deferred;	   /* the provider said NGHTTP2_ERR_DEFERRED: resume on new data */
	bool end_received, end_sent;
	bool reset_by_us;    /* h2conn_reset_stream(): silent from now on */
	bool refused;	     /* we answered 431 ourselves: never reported */
	uint32_t local_code; /* we reset a bad response: reported with this code */
};

struct h2conn {
	nghttp2_session *ng;
	enum h2_role role;
	struct h2conn_callbacks cb;
	void *ctx;
	struct h2_stream *streams;
	size_t queued; /* bytes in every send queue */
	/* output taken from nghttp2 but not drained yet: out[out_off..out_off+out_len), then the
	 * rest of nghttp2's last chunk (valid until the next nghttp2_session_mem_send) */
	uint8_t *out;
	size_t out_off, out_len;
	const uint8_t *spill;
	size_t spill_len;
	bool busy;	  /* inside nghttp2: feed/drain are not reentrant */
	bool broken;	  /* connection error: nothing more is read or submitted */
	bool fatal;	  /* the session itself failed: nothing more is written either */
	bool goaway_sent; /* ours, graceful or not */
	int broken_errno;
	char lib_msg[256]; /* nghttp2's last explanation during this feed */
	char err[320];
};

static void h2_set_err(struct h2conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void h2_set_err(struct h2conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static const char *h2_frame_name(uint8_t type)
{
	static const char *const names[] = {
	    "DATA",	    "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
	    "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION"};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "extension";
}

/* The connection is over because of <ngerr> (an nghttp2 library error). */
static void h2_fail(struct h2conn *c, int ngerr, const char *what)
{
	if (!c->broken) {
		if (ngerr == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
			what = "not HTTP/2: no client connection preface";
		h2_set_err(c, "%s: %s%s%s", what, nghttp2_strerror(ngerr),
			   c->lib_msg[0] ? ": " : "", c->lib_msg);
		c->broken_errno = ngerr == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
	}
	c->broken = true;
	if (nghttp2_is_fatal(ngerr))
		c->fatal = true;
}

/* ---- streams ------------------------------------------------------------------------------ */

static struct h2_stream *h2_stream_new(struct h2conn *c, int32_t id)
{
	struct h2_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->id = id;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	return s;
}

static void h2_head_buf_free(struct h2_stream *s)
{
	if (!s->hb)
		return;
	for (size_t i = 0; i < s->hb->nrefs; i++)
		nghttp2_rcbuf_decref(s->hb->refs[i]);
	free(s->hb);
	s->hb = NULL;
}

static void h2_queue_free(struct h2conn *c, struct h2_stream *s)
{
	while (s->qhead) {
		struct h2_block *b = s->qhead;

		s->qhead = b->next;
		free(b);
	}
	s->qtail = NULL;
	c->queued -= s->qlen;
	s->qlen = 0;
}

static void h2_stream_free(struct h2conn *c, struct h2_stream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h2_head_buf_free(s);
	h2_queue_free(c, s);
	free(s);
}

/* A stream by id: nghttp2 knows open streams; a request whose HEADERS is not sent yet (peer's
 * concurrency limit) is only in our list. */
static struct h2_stream *h2_find(struct h2conn *c, int32_t id)
{
	struct h2_stream *s;

	if (id <= 0)
		return NULL;
	s = nghttp2_session_get_stream_user_data(c->ng, id);
	if (s)
		return s;
	for (s = c->streams; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* ---- receiving ---------------------------------------------------------------------------- */

static int h2_on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2conn *c = user;
	struct h2_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (c->role == H2_SERVER && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		s = h2_stream_new(c, frame->hd.stream_id);
		if (!s)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR
								       */
		if (nghttp2_session_set_stream_user_data(ng, s->id, s) != 0) {
			h2_stream_free(c, s);
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		}
	} else {
		/* Client role: a response head (interim or final), or trailers, which we drop as
		 * h1 drops chunked trailers: only the final head is collected. */
		s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
		if (!s || s->head_done || s->local_code || c->role != H2_CLIENT)
			return 0;
	}
	h2_head_buf_free(s);
	s->hb = calloc(1, sizeof(*s->hb));
	if (!s->hb)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

static int h2_on_header(nghttp2_session *ng, const nghttp2_frame *frame, nghttp2_rcbuf *name,
			nghttp2_rcbuf *value, uint8_t flags, void *user)
{
	struct h2_stream *s;
	struct h2_head_buf *hb;
	nghttp2_vec n = nghttp2_rcbuf_get_buf(name), v = nghttp2_rcbuf_get_buf(value);
	size_t cost = n.len + v.len + 32;

	if (frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	if (!s || !s->hb)
		return 0; /* trailers */
	hb = s->hb;
	if (hb->too_big || cost > H2_MAX_HEAD - hb->bytes ||
	    hb->nrefs + 2 > sizeof(hb->refs) / sizeof(hb->refs[0])) {
		hb->too_big = true;
		return 0;
	}
	hb->bytes += cost;
	if (n.len && n.base[0] == ':') {
		/* nghttp2 has checked the set: known names, no duplicates, the right ones for the
		 * message kind, all before the regular fields. */
		for (int i = 0; i < H2_PS_COUNT; i++) {
			if (strcmp((const char *)n.base, h2_pseudo_names[i]) == 0) {
				nghttp2_rcbuf_incref(value);
				hb->refs[hb->nrefs++] = value;
				hb->pseudo[i] = v;
				break;
			}
		}
		return 0;
	}
	if (hb->nfields == H2_MAX_FIELDS) {
		hb->too_big = true;
		return 0;
	}
	nghttp2_rcbuf_incref(name);
	nghttp2_rcbuf_incref(value);
	hb->refs[hb->nrefs++] = name;
	hb->refs[hb->nrefs++] = value;
	hb->fields[hb->nfields++] =
	    (struct http_field){(const char *)n.base, (const char *)v.base, n.len, v.len};
	return 0;
}

/* nghttp2 would silently drop a field whose name has characters outside the token set (RFC 9113
 * allows that); we refuse the request instead, as h1 does: what is forwarded is what was
 * checked. */
static int h2_on_invalid_header(nghttp2_session *ng, const nghttp2_frame *frame,
				nghttp2_rcbuf *name, nghttp2_rcbuf *value, uint8_t flags,
				void *user)
{
	struct h2conn *c = user;
	nghttp2_vec n = nghttp2_rcbuf_get_buf(name);

	snprintf(c->lib_msg, sizeof(c->lib_msg), "stream %d: invalid header field name \"%.*s\"",
		 frame->hd.stream_id, (int)(n.len > 64 ? 64 : n.len), (const char *)n.base);
	if (nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
				      NGHTTP2_PROTOCOL_ERROR) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static void h2_report_end(struct h2conn *c, struct h2_stream *s)
{
	s->end_received = true;
	if (!s->head_done || !s->surfaced || s->reset_by_us || s->refused)
		return; /* trailers of nothing reported, or a refused stream */
	if (c->role == H2_SERVER && c->cb.request_end)
		c->cb.request_end(c->ctx, s->id);
	else if (c->role == H2_CLIENT && c->cb.response_end)
		c->cb.response_end(c->ctx, s->id);
}

static const char *h2_vec_str(nghttp2_vec v, size_t *len)
{
	*len = v.len;
	return v.base ? (const char *)v.base : NULL;
}

/* Client role: reset a response the caller must not see, with <code>. The caller hears of it as a
 * stream_reset with that code when the stream closes, even if the peer's END_STREAM closes it
 * cleanly first. */
static int h2_refuse_response(struct h2conn *c, struct h2_stream *s, uint32_t code)
{
	s->local_code = code;
	h2_head_buf_free(s);
	return nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, s->id, code) == 0
		   ? 0
		   : NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* A head is complete: report it, or refuse it when over our caps. */
static int h2_head_done(struct h2conn *c, struct h2_stream *s, const nghttp2_frame *frame)
{
	struct h2_head_buf *hb = s->hb;
	struct h2_head h = {0};

	if (hb->too_big) {
		snprintf(c->lib_msg, sizeof(c->lib_msg),
			 "stream %d: header section over %d fields or %d bytes", s->id,
			 H2_MAX_FIELDS, H2_MAX_HEAD);
		h2_head_buf_free(s);
		if (c->role == H2_SERVER) {
			/* The request never reached the caller, so we answer: 431 is the status
			 * made for this (RFC 6585). */
			static const nghttp2_nv nv[] = {
			    {(uint8_t *)":status", (uint8_t *)"431", 7, 3, NGHTTP2_NV_FLAG_NONE}};

			s->refused = true;
			s->answered = true;
			return nghttp2_submit_response(c->ng, s->id, nv, 1, NULL) == 0
				   ? 0
				   : NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		return h2_refuse_response(c, s, NGHTTP2_CANCEL);
	}
	h.fields = hb->fields;
	h.nfields = hb->nfields;
	h.end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	if (c->role == H2_SERVER) {
		h.method = h2_vec_str(hb->pseudo[H2_PS_METHOD], &h.method_len);
		h.scheme = h2_vec_str(hb->pseudo[H2_PS_SCHEME], &h.scheme_len);
		h.authority = h2_vec_str(hb->pseudo[H2_PS_AUTHORITY], &h.authority_len);
		h.path = h2_vec_str(hb->pseudo[H2_PS_PATH], &h.path_len);
		s->surfaced = true;
		s->head_done = true;
		if (c->cb.request_head)
			c->cb.request_head(c->ctx, s->id, &h);
	} else {
		nghttp2_vec st = hb->pseudo[H2_PS_STATUS];

		/* nghttp2 checked for exactly three digits */
		h.status = st.len == 3 ? (st.base[0] - '0') * 100 + (st.base[1] - '0') * 10 +
					     (st.base[2] - '0')
				       : 0;
		if (h.status < 100 || h.status > 599) {
			/* nghttp2 takes any three digits; HTTP has 100..599 (RFC 9110 section 15),
			 * and h1 refuses the rest too. */
			snprintf(c->lib_msg, sizeof(c->lib_msg), "stream %d: status %d", s->id,
				 h.status);
			return h2_refuse_response(c, s, NGHTTP2_PROTOCOL_ERROR);
		}
		if (h.status < 200) {
			h2_head_buf_free(s); /* interim: the final head follows */
			return 0;
		}
		s->head_done = true;
		if (c->cb.response_head && !s->reset_by_us)
			c->cb.response_head(c->ctx, s->id, &h);
	}
	h2_head_buf_free(s);
	return 0;
}

static int h2_on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2conn *c = user;
	struct h2_stream *s;
	int rv;

	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
		if (!s)
			return 0;
		if (s->hb && (rv = h2_head_done(c, s, frame)) != 0)
			return rv;
		if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
			h2_report_end(c, s);
		return 0;
	case NGHTTP2_DATA:
		s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
		if (s && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
			h2_report_end(c, s);
		return 0;
	case NGHTTP2_GOAWAY:
		if (frame->goaway.error_code != NGHTTP2_NO_ERROR) {
			size_t n = frame->goaway.opaque_data_len;

			h2_set_err(c, "peer sent GOAWAY %s: %.*s",
				   nghttp2_http2_strerror(frame->goaway.error_code),
				   (int)(n > 128 ? 128 : n),
				   n ? (const char *)frame->goaway.opaque_data : "");
		}
		if (c->cb.goaway)
			c->cb.goaway(c->ctx, frame->goaway.error_code,
				     frame->goaway.last_stream_id);
		return 0;
	default:
		return 0;
	}
}

static int h2_on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
			    const uint8_t *data, size_t len, void *user)
{
	struct h2conn *c = user;
	struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);

	if (!s || !s->head_done || !s->surfaced || s->reset_by_us || s->refused) {
		/* Nobody will take these bytes: give the credit back now. */
		return nghttp2_session_consume(ng, stream_id, len) == 0
			   ? 0
			   : NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	s->unconsumed += len;
	if (c->role == H2_SERVER && c->cb.request_data)
		c->cb.request_data(c->ctx, stream_id, (const char *)data, len);
	else if (c->role == H2_CLIENT && c->cb.response_data)
		c->cb.response_data(c->ctx, stream_id, (const char *)data, len);
	return 0;
}

static int h2_on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code,
			      void *user)
{
	struct h2conn *c = user;
	struct h2_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);
	bool report;

	if (!s)
		return 0;
	/* Credit of bytes the caller never consumed would otherwise be lost for the connection. */
	if (s->unconsumed && nghttp2_session_consume_connection(ng, s->unconsumed) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
	report = s->surfaced && !s->reset_by_us && !s->refused &&
		 !(s->head_done && s->end_received && s->end_sent);
	if (s->local_code)
		error_code = s->local_code;
	/* Gone before the caller hears of it, so that nothing it calls finds the stream. */
	h2_stream_free(c, s);
	if (report && c->cb.stream_reset)
		c->cb.stream_reset(c->ctx, stream_id, error_code);
	return 0;
}

static int h2_on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *frame, int lib_error,
			       void *user)
{
	struct h2conn *c = user;

	if (!c->lib_msg[0])
		snprintf(c->lib_msg, sizeof(c->lib_msg), "invalid %s frame on stream %d: %s",
			 h2_frame_name(frame->hd.type), frame->hd.stream_id,
			 nghttp2_strerror(lib_error));
	return 0;
}

static int h2_on_error(nghttp2_session *ng, int lib_error, const char *msg, size_t len, void *user)
{
	struct h2conn *c = user;

	snprintf(c->lib_msg, sizeof(c->lib_msg), "%.*s", (int)len, msg);
	return 0;
}

/* ---- sending ------------------------------------------------------------------------------ */

static ssize_t h2_read_body(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length,
			    uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
	struct h2conn *c = user;
	struct h2_stream *s = source->ptr;
	size_t n = 0;

	if (s->reset_by_us || (s->qlen == 0 && !s->eof_queued)) {
		s->deferred = !s->reset_by_us;
		return NGHTTP2_ERR_DEFERRED;
	}
	while (n < length && s->qhead) {
		struct h2_block *b = s->qhead;
		size_t k = b->len - b->off;

		if (k > length - n)
			k = length - n;
		memcpy(buf + n, b->data + b->off, k);
		b->off += k;
		n += k;
		if (b->off == b->len) {
			s->qhead = b->next;
			if (!s->qhead)
				s->qtail = NULL;
			free(b);
		}
	}
	s->qlen -= n;
	c->queued -= n;
	if (s->qlen == 0 && s->eof_queued)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int h2_on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct h2conn *c = user;
	struct h2_stream *s;

	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
	case NGHTTP2_DATA:
		s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
		if (!s)
			return 0;
		if (frame->hd.type == NGHTTP2_DATA && frame->hd.length && s->surfaced &&
		    !s->reset_by_us && c->cb.data_sent)
			c->cb.data_sent(c->ctx, s->id, frame->hd.length);
		if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
			s->end_sent = true;
			/* A complete response before the request ended (local answer, 431, an
			 * upstream that answered early): ask the client to stop sending, as
			 * RFC 9113 section 8.1 allows, instead of taking the rest of its body. */
			if (c->role == H2_SERVER && !s->end_received &&
			    nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, s->id,
						      NGHTTP2_NO_ERROR) != 0)
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		return 0;
	case NGHTTP2_GOAWAY:
		if (frame->goaway.error_code != NGHTTP2_NO_ERROR && !c->broken) {
			size_t n = frame->goaway.opaque_data_len;

			h2_set_err(c, "connection error %s: %.*s%s%s",
				   nghttp2_http2_strerror(frame->goaway.error_code),
				   (int)(n > 128 ? 128 : n),
				   n ? (const char *)frame->goaway.opaque_data : "",
				   n && c->lib_msg[0] ? "; " : "", c->lib_msg);
			c->broken = true;
			c->broken_errno = -EPROTO;
		}
		return 0;
	default:
		return 0;
	}
}

/* A request whose HEADERS never left (GOAWAY received first, stream ids exhausted) never opens,
 * so nghttp2 will not close it: the caller still has to hear about it. */
static int h2_on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *frame, int lib_error,
				void *user)
{
	struct h2conn *c = user;
	struct h2_stream *s;
	bool report;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST ||
	    c->role != H2_CLIENT)
		return 0;
	if (nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id))
		return 0; /* opened after all: its close will be reported */
	for (s = c->streams; s && s->id != frame->hd.stream_id; s = s->next)
		;
	if (!s)
		return 0;
	report = !s->reset_by_us;
	h2_stream_free(c, s);
	if (report && c->cb.stream_reset)
		c->cb.stream_reset(c->ctx, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
	return 0;
}

/* Move output from nghttp2 into c->out until it is full, so that a GOAWAY caused by the input
 * just read is seen (and reported by h2conn_feed) at once. */
static void h2_pump(struct h2conn *c)
{
	while (!c->fatal) {
		if (c->spill_len) {
			size_t room, k;

			if (!c->out) {
				c->out = malloc(H2_OUT_CAP);
				if (!c->out)
					return; /* drain copies straight from nghttp2 instead */
				c->out_off = 0;
			}
			if (c->out_off + c->out_len == H2_OUT_CAP && c->out_off) {
				memmove(c->out, c->out + c->out_off, c->out_len);
				c->out_off = 0;
			}
			room = H2_OUT_CAP - c->out_off - c->out_len;
			if (room == 0)
				return;
			k = c->spill_len < room ? c->spill_len : room;
			memcpy(c->out + c->out_off + c->out_len, c->spill, k);
			c->out_len += k;
			c->spill += k;
			c->spill_len -= k;
			continue;
		}
		ssize_t n = nghttp2_session_mem_send(c->ng, &c->spill);

		if (n < 0) {
			c->spill = NULL;
			h2_fail(c, (int)n, "HTTP/2 send failed");
			return;
		}
		if (n == 0)
			return;
		c->spill_len = (size_t)n;
	}
}

/* ---- the public calls --------------------------------------------------------------------- */

struct h2conn *h2conn_new(enum h2_role role, const struct h2conn_callbacks *cb, void *ctx,
			  char *err, size_t errlen)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_option *opt = NULL;
	nghttp2_settings_entry iv[4];
	size_t niv = 0;
	struct h2conn *c;
	int rv;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->role = role;
	if (cb)
		c->cb = *cb;
	c->ctx = ctx;
	if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
		goto nomem;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback2(cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_invalid_header_callback2(cbs, h2_on_invalid_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, h2_on_frame_send);
	nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, h2_on_frame_not_send);
	nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, h2_on_invalid_frame);
	nghttp2_session_callbacks_set_error_callback2(cbs, h2_on_error);
	/* Credit goes back only when the caller says the bytes were taken. */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	/* Closed streams are kept only for RFC 7540 priorities, which we do not use. */
	nghttp2_option_set_no_closed_streams(opt, 1);
	if (role == H2_SERVER)
		rv = nghttp2_session_server_new2(&c->ng, cbs, c, opt);
	else
		rv = nghttp2_session_client_new2(&c->ng, cbs, c, opt);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	cbs = NULL;
	opt = NULL;
	if (rv != 0)
		goto nomem;

	iv[niv++] =
	    (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW};
	iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_HEAD};
	if (role == H2_SERVER)
		iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
						     H2_MAX_STREAMS};
	else
		iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
	if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, niv) != 0 ||
	    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) != 0)
		goto nomem;
	return c;
nomem:
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	h2conn_free(c);
	if (err && errlen)
		snprintf(err, errlen, "out of memory creating an HTTP/2 session");
	return NULL;
}

void h2conn_free(struct h2conn *c)
{
	if (!c)
		return;
	while (c->streams)
		h2_stream_free(c, c->streams);
	nghttp2_session_del(c->ng); /* reports nothing */
	free(c->out);
	free(c);
}

ssize_t h2conn_feed(struct h2conn *c, const uint8_t *in, size_t len)
{
	ssize_t n;

	if (c->busy)
		return -EBUSY;
	if (c->broken)
		return c->broken_errno;
	c->lib_msg[0] = '\0';
	c->busy = true;
	n = nghttp2_session_mem_recv(c->ng, in, len);
	if (n < 0)
		h2_fail(c, (int)n, "HTTP/2 input refused");
	else
		h2_pump(c);
	c->busy = false;
	if (c->broken)
		return c->broken_errno;
	return n;
}

size_t h2conn_pending(struct h2conn *c)
{
	if (!c->busy) {
		c->busy = true;
		h2_pump(c);
		c->busy = false;
	}
	return c->out_len + c->spill_len;
}

int h2conn_drain(struct h2conn *c, uint8_t *out, size_t cap, size_t *written)
{
	size_t w = 0;

	*written = 0;
	if (c->busy)
		return -EBUSY;
	c->busy = true;
	if (c->out_len) {
		size_t k = c->out_len < cap ? c->out_len : cap;

		memcpy(out, c->out + c->out_off, k);
		c->out_off += k;
		c->out_len -= k;
		w = k;
		if (c->out_len == 0) {
			/* Idle connections hold no output buffer. */
			free(c->out);
			c->out = NULL;
			c->out_off = 0;
		}
	}
	/* Then straight from nghttp2's buffer, which is the newer output. */
	while (w < cap && c->out_len == 0 && !c->fatal) {
		if (!c->spill_len) {
			ssize_t n = nghttp2_session_mem_send(c->ng, &c->spill);

			if (n < 0) {
				c->spill = NULL;
				h2_fail(c, (int)n, "HTTP/2 send failed");
				break;
			}
			if (n == 0)
				break;
			c->spill_len = (size_t)n;
		}
		size_t k = c->spill_len < cap - w ? c->spill_len : cap - w;

		memcpy(out + w, c->spill, k);
		c->spill += k;
		c->spill_len -= k;
		w += k;
	}
	c->busy = false;
	*written = w;
	return c->fatal ? c->broken_errno : 0;
}

uint32_t h2conn_remote_max_streams(struct h2conn *c)
{
	return nghttp2_session_get_remote_settings(c->ng,
						   NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool h2conn_want_io(struct h2conn *c)
{
	if (c->out_len || c->spill_len)
		return true;
	if (c->fatal)
		return false;
	return nghttp2_session_want_read(c->ng) || nghttp2_session_want_write(c->ng);
}

const char *h2conn_error(const struct h2conn *c)
{
	return c->err;
}

static bool h2_name_is(const struct http_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && memcmp(f->name, name, n) == 0;
}

/* Check <fields> for sending and build nghttp2's list after <nva>[<npseudo>] (the pseudo-fields
 * the caller put first). <what> names the message in errors. Returns 0, -EINVAL or -E2BIG. */
static int h2_fill_nva(struct h2conn *c, nghttp2_nv *nva, size_t npseudo,
		       const struct http_field *fields, size_t nfields, const char *what)
{
	size_t bytes = 0;

	if (nfields > H2_MAX_FIELDS) {
		h2_set_err(c, "%s: %zu fields, more than %d", what, nfields, H2_MAX_FIELDS);
		return -E2BIG;
	}
	for (size_t i = 0; i < npseudo; i++)
		bytes += nva[i].namelen + nva[i].valuelen + 32;
	for (size_t i = 0; i < nfields; i++) {
		const struct http_field *f = &fields[i];

		if (!nghttp2_check_header_name((const uint8_t *)f->name, f->name_len)) {
			h2_set_err(c,
				   "%s: field %zu: invalid name \"%.*s\" (HTTP/2 names are "
				   "lowercase tokens)",
				   what, i, (int)(f->name_len > 64 ? 64 : f->name_len), f->name);
			return -EINVAL;
		}
		if (!nghttp2_check_header_value_rfc9113((const uint8_t *)f->value, f->value_len)) {
			h2_set_err(c, "%s: field %zu (%.*s): invalid value", what, i,
				   (int)(f->name_len > 64 ? 64 : f->name_len), f->name);
			return -EINVAL;
		}
		/* The peer would reset the stream for these (RFC 9113 section 8.2.2). */
		if (h2_name_is(f, "connection") || h2_name_is(f, "keep-alive") ||
		    h2_name_is(f, "proxy-connection") || h2_name_is(f, "transfer-encoding") ||
		    h2_name_is(f, "upgrade") ||
		    (h2_name_is(f, "te") &&
		     !(f->value_len == 8 && strncasecmp(f->value, "trailers", 8) == 0))) {
			h2_set_err(c,
				   "%s: field %zu (%.*s) is connection-specific: not allowed in "
				   "HTTP/2",
				   what, i, (int)f->name_len, f->name);
			return -EINVAL;
		}
		bytes += f->name_len + f->value_len + 32;
		nva[npseudo + i] = (nghttp2_nv){(uint8_t *)f->name, (uint8_t *)f->value,
						f->name_len, f->value_len, NGHTTP2_NV_FLAG_NONE};
	}
	if (bytes > H2_MAX_HEAD) {
		h2_set_err(c, "%s: header section of %zu bytes, more than %d", what, bytes,
			   H2_MAX_HEAD);
		return -E2BIG;
	}
	return 0;
}

static int h2_errno(struct h2conn *c, int ngerr, const char *what)
{
	h2_set_err(c, "%s: %s", what, nghttp2_strerror(ngerr));
	if (ngerr == NGHTTP2_ERR_NOMEM)
		return -ENOMEM;
	if (nghttp2_is_fatal(ngerr))
		h2_fail(c, ngerr, what);
	return -EPROTO;
}

int h2conn_submit_response(struct h2conn *c, int32_t stream_id, int status,
			   const struct http_field *fields, size_t nfields, bool has_body)
{
	nghttp2_nv nva[H2_MAX_FIELDS + 1];
	nghttp2_data_provider prd;
	struct h2_stream *s;
	char st[4];
	int rv;

	if (c->role != H2_SERVER) {
		h2_set_err(c, "h2conn_submit_response: not a server-role connection");
		return -EINVAL;
	}
	if (c->broken)
		return -EPIPE;
	s = h2_find(c, stream_id);
	if (!s || !s->surfaced || s->reset_by_us) {
		h2_set_err(c, "response: no open stream %d", stream_id);
		return -ENOENT;
	}
	if (s->answered) {
		h2_set_err(c, "response: stream %d already answered", stream_id);
		return -EALREADY;
	}
	if (status < 200 || status > 599) {
		h2_set_err(c, "response: status %d is not a final status (200..599)", status);
		return -EINVAL;
	}
	snprintf(st, sizeof(st), "%d", status);
	nva[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)st, 7, 3, NGHTTP2_NV_FLAG_NONE};
	rv = h2_fill_nva(c, nva, 1, fields, nfields, "response");
	if (rv < 0)
		return rv;
	prd.source.ptr = s;
	prd.read_callback = h2_read_body;
	rv = nghttp2_submit_response(c->ng, stream_id, nva, nfields + 1, has_body ? &prd : NULL);
	if (rv != 0)
		return h2_errno(c, rv, "response");
	s->answered = true;
	s->has_body = has_body;
	return 0;
}

static bool h2_scheme_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '+' || *s == '-' || *s == '.'))
			return false;
	return true;
}

int32_t h2conn_submit_request(struct h2conn *c, const char *method, const char *scheme,
			      const char *authority, const char *path,
			      const struct http_field *fields, size_t nfields, bool has_body)
{
	nghttp2_nv nva[H2_MAX_FIELDS + 4];
	nghttp2_data_provider prd;
	struct h2_stream *s;
	int32_t id;
	int rv;

	if (c->role != H2_CLIENT) {
		h2_set_err(c, "h2conn_submit_request: not a client-role connection");
		return -EINVAL;
	}
	if (c->broken)
		return -EPIPE;
	if (c->goaway_sent || !nghttp2_session_check_request_allowed(c->ng)) {
		h2_set_err(c, "request: the connection takes no new streams (GOAWAY)");
		return -EPIPE;
	}
	if (!nghttp2_check_method((const uint8_t *)method, strlen(method)) ||
	    strcmp(method, "CONNECT") == 0) {
		h2_set_err(c, "request: invalid or unsupported method \"%.32s\"", method);
		return -EINVAL;
	}
	if (!h2_scheme_ok(scheme)) {
		h2_set_err(c, "request: invalid scheme \"%.32s\"", scheme);
		return -EINVAL;
	}
	if (!*authority ||
	    !nghttp2_check_authority((const uint8_t *)authority, strlen(authority))) {
		h2_set_err(c, "request: invalid authority \"%.64s\"", authority);
		return -EINVAL;
	}
	if (!(path[0] == '/' || (strcmp(path, "*") == 0 && strcmp(method, "OPTIONS") == 0)) ||
	    !nghttp2_check_path((const uint8_t *)path, strlen(path))) {
		h2_set_err(c, "request: invalid path \"%.64s\"", path);
		return -EINVAL;
	}
	nva[0] = (nghttp2_nv){(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0};
	nva[1] = (nghttp2_nv){(uint8_t *)":scheme", (uint8_t *)scheme, 7, strlen(scheme), 0};
	nva[2] =
	    (nghttp2_nv){(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority), 0};
	nva[3] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0};
	rv = h2_fill_nva(c, nva, 4, fields, nfields, "request");
	if (rv < 0)
		return rv;
	s = h2_stream_new(c, 0);
	if (!s) {
		h2_set_err(c, "request: out of memory");
		return -ENOMEM;
	}
	prd.source.ptr = s;
	prd.read_callback = h2_read_body;
	id = nghttp2_submit_request(c->ng, NULL, nva, nfields + 4, has_body ? &prd : NULL, s);
	if (id < 0) {
		h2_stream_free(c, s);
		return h2_errno(c, id, "request");
	}
	s->id = id;
	s->surfaced = true;
	s->has_body = has_body;
	return id;
}

int h2conn_send_data(struct h2conn *c, int32_t stream_id, const void *data, size_t len,
		     bool end_stream)
{
	struct h2_stream *s;
	struct h2_block *first = NULL, *last = NULL;
	const char *p = data;
	size_t room, left;

	if (c->broken)
		return -EPIPE;
	s = h2_find(c, stream_id);
	if (!s || !s->surfaced) {
		h2_set_err(c, "data: no open stream %d", stream_id);
		return -ENOENT;
	}
	if (!s->has_body) {
		h2_set_err(c, "data: stream %d was submitted without a body", stream_id);
		return -EINVAL;
	}
	if (s->eof_queued || s->reset_by_us || s->end_sent) {
		h2_set_err(c, "data: stream %d: body already ended or stream reset", stream_id);
		return -EPIPE;
	}
	if (len > H2_SEND_CAP) {
		h2_set_err(c, "data: %zu bytes at once, more than %u", len, (unsigned)H2_SEND_CAP);
		return -EMSGSIZE;
	}
	room = h2conn_send_room(c, stream_id);
	if (len > room)
		return -EAGAIN;
	/* Fill the tail block, then new blocks, built aside so a failed allocation changes
	 * nothing. */
	left = len;
	if (len && s->qtail && s->qtail->len < H2_BLOCK)
		left -= left < H2_BLOCK - s->qtail->len ? left : H2_BLOCK - s->qtail->len;
	while (left) {
		struct h2_block *b = malloc(sizeof(*b));
		size_t k = left < H2_BLOCK ? left : H2_BLOCK;

		if (!b) {
			while (first) {
				b = first->next;
				free(first);
				first = b;
			}
			h2_set_err(c, "data: out of memory");
			return -ENOMEM;
		}
		b->next = NULL;
		b->off = 0;
		b->len = 0;
		if (last)
			last->next = b;
		else
			first = b;
		last = b;
		left -= k;
	}
	left = len;
	if (len && s->qtail && s->qtail->len < H2_BLOCK) {
		size_t k = left < H2_BLOCK - s->qtail->len ? left : H2_BLOCK - s->qtail->len;

		memcpy(s->qtail->data + s->qtail->len, p, k);
		s->qtail->len += k;
		p += k;
		left -= k;
	}
	for (struct h2_block *b = first; b; b = b->next) {
		size_t k = left < H2_BLOCK ? left : H2_BLOCK;

		memcpy(b->data, p, k);
		b->len = k;
		p += k;
		left -= k;
	}
	if (first) {
		if (s->qtail)
			s->qtail->next = first;
		else
			s->qhead = first;
		s->qtail = last;
	}
	s->qlen += len;
	c->queued += len;
	if (end_stream)
		s->eof_queued = true;
	if (s->deferred && (len || end_stream)) {
		int rv = nghttp2_session_resume_data(c->ng, stream_id);

		if (rv != 0 && rv != NGHTTP2_ERR_INVALID_ARGUMENT)
			return h2_errno(c, rv, "data");
		s->deferred = false;
	}
	return 0;
}

size_t h2conn_send_room(struct h2conn *c, int32_t stream_id)
{
	struct h2_stream *s = h2_find(c, stream_id);
	size_t a, b;

	if (!s || !s->has_body || s->eof_queued || s->reset_by_us || c->broken)
		return 0;
	a = H2_SEND_CAP - s->qlen;
	b = H2_CONN_SEND_CAP - c->queued;
	return a < b ? a : b;
}

int h2conn_window_consumed(struct h2conn *c, int32_t stream_id, size_t n)
{
	struct h2_stream *s;
	int rv;

	if (c->fatal)
		return 0;
	s = nghttp2_session_get_stream_user_data(c->ng, stream_id);
	if (!s || stream_id <= 0)
		return 0; /* closed: its credit went back then */
	if (n > s->unconsumed)
		n = s->unconsumed;
	if (n == 0)
		return 0;
	rv = nghttp2_session_consume(c->ng, stream_id, n);
	if (rv != 0)
		return h2_errno(c, rv, "window update");
	s->unconsumed -= n;
	return 0;
}

int h2conn_reset_stream(struct h2conn *c, int32_t stream_id, uint32_t code)
{
	struct h2_stream *s;
	int rv;

	if (c->broken)
		return -EPIPE;
	s = h2_find(c, stream_id);
	if (!s || !s->surfaced || s->reset_by_us) {
		h2_set_err(c, "reset: no open stream %d", stream_id);
		return -ENOENT;
	}
	rv = nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, stream_id, code);
	if (rv != 0)
		return h2_errno(c, rv, "reset");
	s->reset_by_us = true;
	/* Nothing queued will be sent any more. */
	h2_queue_free(c, s);
	return 0;
}

int h2conn_goaway(struct h2conn *c)
{
	int32_t last;
	int rv;

	if (c->broken)
		return -EPIPE;
	if (c->goaway_sent)
		return 0;
	/* We accept no pushed streams, so a client's GOAWAY names stream 0. */
	last = c->role == H2_SERVER ? nghttp2_session_get_last_proc_stream_id(c->ng) : 0;
	rv = nghttp2_submit_goaway(c->ng, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, NULL, 0);
	if (rv != 0)
		return h2_errno(c, rv, "goaway");
	c->goaway_sent = true;
	return 0;
}

int h2conn_set_stream_user(struct h2conn *c, int32_t stream_id, void *user)
{
	struct h2_stream *s = h2_find(c, stream_id);

	if (!s || !s->surfaced)
		return -ENOENT;
	s->user = user;
	return 0;
}

void *h2conn_stream_user(struct h2conn *c, int32_t stream_id)
{
	struct h2_stream *s = h2_find(c, stream_id);

	return s && s->surfaced ? s->user : NULL;
}
