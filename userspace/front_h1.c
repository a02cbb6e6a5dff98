/* front_h1: HTTP/1.1 toward the client. Requests are parsed strictly (h1.c; smuggling shapes are
 * refused with 400) and handled one at a time: a pipelined request waits in the buffer until the
 * previous response has ended, so responses are never mismatched. Bodies are decoded as they
 * arrive and re-framed on the way out (the provider's Content-Length, else chunked, each chunk
 * leaving as soon as it arrives, so streamed events are not held back). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "conn.h"
#include "exch.h"
#include "front.h"
#include "log.h"
#include "mitm.h"
#include "relay.h"

/* Answer without an exchange (the request could not even be understood) and close after. */
static void raw_answer(struct conn *c, int status, const char *text)
{
	struct mitm *m = c->mitm;
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\nX-Modelux: local\r\n\r\n",
			 status, xhead_reason(status), strlen(text));

	if (mbuf_put(&m->cout, head, (size_t)n) && mbuf_put(&m->cout, text, strlen(text)))
		c->u2c.bytes += (size_t)n + strlen(text);
	m->closing = true;
	mbuf_consume(&m->cin, m->cin.len);
}

static int on_req_data(void *ctx, const char *data, size_t len)
{
	return exch_req_data(ctx, data, len) ? 0 : -ENOMEM;
}

static int start_request(struct conn *c)
{
	/* Per worker thread, not per request: heads are parsed one at a time. */
	static __thread struct h1_head head;
	struct mitm *m = c->mitm;
	struct h1_head *h = &head;
	struct xhead x;
	struct exch *ex;
	char err[256] = "";
	int n;

	n = h1_parse_head(m->cin.p, m->cin.len, H1_REQUEST, h, err, sizeof(err));
	if (n == 0 && m->cin.len > H1_MAX_HEAD)
		n = -E2BIG;
	if (n == 0)
		return 0;
	if (n < 0 || xhead_from_h1_request(&x, h, err, sizeof(err)) < 0) {
		bool big = n == -E2BIG;

		atomic_fetch_add(&c->w->ag->stats.http_errors, 1);
		log_warn("flow id=%llu malformed request from client: %s",
			 (unsigned long long)c->id, err);
		raw_answer(c, big ? 431 : 400, "modelux: malformed HTTP request\n");
		return 1;
	}
	h1_body_init(&m->reqb, h, NULL, 0);
	m->keep_alive = h->keep_alive;
	m->client_http11 = h->version == 11;
	x.websocket = x.websocket && m->client_http11; /* RFC 6455 section 4.1 */
	mbuf_consume(&m->cin, (size_t)n);
	ex = exch_new(c, 0, ++m->seq, "http/1.1", &x);
	if (!ex)
		return -1;
	front_link(m, ex);
	m->req_in_body = !h1_body_done(&m->reqb);
	m->resp_chunked = m->resp_until_close = m->resp_no_body = false;
	exch_start(ex);
	if (ex->req.expect_continue && m->req_in_body && !ex->local) {
		/* The request is on its way (the hook let it through): invite the body. */
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		mbuf_put(&m->cout, cont, sizeof(cont) - 1);
		c->u2c.bytes += sizeof(cont) - 1;
	}
	/* A WebSocket upgrade on its way has no body yet: whether it gets one (the tunnel) is
	 * the provider's answer to say (write_head). */
	if (!m->req_in_body && !ex->tunnel)
		exch_req_end(ex);
	return 1;
}

/* Client -> exchange. Returns 1 on progress, 0 when stuck, -1 when the connection closed. */
static int read_requests(struct conn *c)
{
	struct mitm *m = c->mitm;
	char err[256];
	int progress = 0;

	while (m->cin.len && !m->closing) {
		struct exch *ex = m->xh;
		size_t room, want;
		int n;

		if (!ex) {
			n = start_request(c);
			if (n <= 0)
				return n < 0 ? -1 : progress;
			progress = 1;
			continue;
		}
		if (!m->req_in_body)
			return progress; /* pipelined: waits until this response has ended */
		room = ex->held				? m->cin.len
		       : ex->req_q.len < EXCH_QUEUE_CAP ? EXCH_QUEUE_CAP - ex->req_q.len
							: 0;
		want = m->cin.len < room ? m->cin.len : room;
		if (want == 0)
			return progress;
		n = h1_body_feed(&m->reqb, m->cin.p, want, on_req_data, ex, err, sizeof(err));
		if (n < 0) {
			atomic_fetch_add(&c->w->ag->stats.http_errors, 1);
			log_warn("flow id=%llu malformed request body from client: %s",
				 (unsigned long long)c->id, err);
			conn_close(c, "client_bad_body");
			return -1;
		}
		mbuf_consume(&m->cin, (size_t)n);
		if (n)
			progress = 1;
		if (h1_body_done(&m->reqb)) {
			m->req_in_body = false;
			exch_req_end(ex);
		} else if (n == 0) {
			return progress;
		}
	}
	return progress;
}

static bool write_head(struct conn *c, struct exch *ex)
{
	struct mitm *m = c->mitm;
	const char *method = ex->req.method;
	int st = ex->resp.status;
	enum h1_framing framing;
	bool close;
	char *t;
	int n;

	if (ex->tunnel && st == 101) {
		/* Switched: from here each side's bytes pass through until one closes. */
		framing = H1_FRAMING_NONE; /* xhead writes the Upgrade fields of a 101 */
		m->resp_until_close = true;
		h1_body_init_tunnel(&m->reqb);
		m->req_in_body = true;
	} else {
		if (ex->tunnel) {
			/* Refused: an ordinary answer to a bodiless GET. */
			ex->tunnel = false;
			exch_req_end(ex);
		}
		if (strcmp(method, "HEAD") == 0 || st == 204 || st == 304) {
			framing =
			    H1_FRAMING_VERBATIM; /* Content-Length describes, nothing follows */
			m->resp_no_body = true;
		} else if (ex->resp.content_length >= 0) {
			framing = H1_FRAMING_LENGTH;
		} else if (m->client_http11) {
			framing = H1_FRAMING_CHUNKED;
			m->resp_chunked = true;
		} else {
			framing = H1_FRAMING_NONE;
			m->resp_until_close = true;
		}
	}
	close = (!m->keep_alive || m->resp_until_close) && st != 101;
	t = mbuf_tail(&m->cout, 4096);
	n = t ? xhead_write_h1_response(&ex->resp, framing, close, t, 4096) : -ENOMEM;
	if (n == -ENOSPC) {
		t = mbuf_tail(&m->cout, H1_MAX_HEAD + 4096);
		n = t ? xhead_write_h1_response(&ex->resp, framing, close, t, H1_MAX_HEAD + 4096)
		      : -ENOMEM;
	}
	if (n < 0) {
		log_warn("flow id=%llu response head cannot be written: %s",
			 (unsigned long long)c->id, strerror(-n));
		return false;
	}
	mbuf_commit(&m->cout, (size_t)n);
	c->u2c.bytes += (size_t)n;
	ex->resp_head_sent = true;
	return true;
}

/* Exchange -> client. Returns 1 on progress, 0 when stuck, -1 when the connection closed. */
static int write_response(struct conn *c)
{
	struct mitm *m = c->mitm;
	struct exch *ex = m->xh;
	int progress = 0;

	if (!ex)
		return 0;
	if (ex->aborted) {
		/* Cut after the head went out: only closing tells an HTTP/1.1 client. */
		conn_close(c, "upstream_error");
		return -1;
	}
	if (!ex->resp_has_head)
		return 0;
	if (!ex->resp_head_sent) {
		if (!write_head(c, ex)) {
			conn_close(c, "bad_response_head");
			return -1;
		}
		progress = 1;
	}
	if (m->resp_no_body && ex->resp_q.len) {
		/* nothing may follow this head */
		size_t n = ex->resp_q.len;

		bq_clear(&ex->resp_q);
		exch_resp_taken(ex, n);
		progress = 1;
	} else {
		size_t n = relay_to_h1(&ex->resp_q, &m->cout, m->resp_chunked, &c->u2c.bytes);

		if (n) {
			exch_resp_taken(ex, n);
			progress = 1;
		}
	}
	if (ex->resp_end && ex->resp_q.len == 0) {
		bool request_whole = !m->req_in_body;

		if (m->resp_chunked) {
			if (!mbuf_put(&m->cout, "0\r\n\r\n", 5))
				return progress;
			c->u2c.bytes += 5;
		}
		front_unlink(m, ex);
		exch_front_detach(ex, true);
		/* A request still sending its body cannot be followed by another one. */
		if (!m->keep_alive || m->resp_until_close || !request_whole)
			m->closing = true;
		progress = 1;
	}
	return progress;
}

static size_t read_limit(const struct mitm *m)
{
	if (!m->xh && m->cin.len >= MBUF_DEFAULT)
		return H1_MAX_HEAD + 1; /* a large head being completed */
	return MBUF_DEFAULT;
}

static bool may_read(const struct mitm *m)
{
	const struct exch *ex = m->xh;

	if (m->closing)
		return false;
	return !ex || !m->req_in_body || ex->req_q.len < EXCH_QUEUE_CAP || ex->held;
}

bool front_h1_drive(struct conn *c)
{
	struct mitm *m = c->mitm;
	int p, r, guard = 0;

	do {
		p = 0;
		if (may_read(m)) {
			size_t before = m->cin.len;

			r = tls_read_into(m->cs, &m->cin, read_limit(m), &m->client_eof,
					  &m->readable);
			if (r < 0) {
				conn_close(c, "client_error");
				return false;
			}
			c->c2u.bytes += m->cin.len - before;
			p |= r;
		}
		r = read_requests(c);
		if (r < 0)
			return false;
		p |= r;
		r = write_response(c);
		if (r < 0)
			return false;
		p |= r;
		r = tls_write_from(m->cs, &m->cout);
		if (r < 0) {
			conn_close(c, "client_error");
			return false;
		}
		p |= r;
	} while (p && ++guard < 1024);

	if (guard >= 1024)
		mitm_kick(c);
	if (m->closing && m->cout.len == 0) {
		SSL_shutdown(m->cs);
		conn_close(c, "eof");
		return false;
	}
	if (m->client_eof && m->xh && m->xh->tunnel_open && m->req_in_body && m->cin.len == 0) {
		/* The client is done sending: what it sent still goes to the provider (then
		 * half-closed, up_h1.c), and the tunnel ends when the provider closes. */
		m->req_in_body = false;
		exch_req_end(m->xh);
	}
	if (m->client_eof && m->cout.len == 0 && (!m->xh || m->req_in_body)) {
		/* Gone between requests, or in the middle of sending one. */
		conn_close(c, m->xh ? "client_closed" : "eof");
		return false;
	}
	return true;
}
