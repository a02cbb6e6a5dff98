/* front_h2: HTTP/2 toward the client: each stream is an exchange. Request data is credited back
 * to the client only as the provider side takes it; response data leaves as the client's windows
 * allow and is credited to the provider side once sent. A broken stream is reset alone; a broken
 * connection gets GOAWAY and closes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "conn.h"
#include "exch.h"
#include "front.h"
#include "h2conn.h"
#include "log.h"
#include "mitm.h"
#include "relay.h"

#define H2_NO_ERROR 0x0
#define H2_PROTOCOL_ERROR 0x1
#define H2_INTERNAL_ERROR 0x2
#define H2_REFUSED_STREAM 0x7

static struct exch *stream_exch(struct mitm *m, int32_t sid)
{
	return h2conn_stream_user(m->h2c, sid);
}

static void on_request_head(void *ctx, int32_t sid, const struct h2_head *h)
{
	struct conn *c = ctx;
	struct mitm *m = c->mitm;
	struct xhead x;
	struct exch *ex;
	char err[256] = "";

	if (xhead_from_h2_request(&x, h, err, sizeof(err)) < 0) {
		atomic_fetch_add(&c->w->ag->stats.http_errors, 1);
		log_warn("flow id=%llu stream %d: unusable request from client: %s",
			 (unsigned long long)c->id, sid, err);
		h2conn_reset_stream(m->h2c, sid, H2_PROTOCOL_ERROR);
		return;
	}
	ex = exch_new(c, sid, ++m->seq, "h2", &x);
	if (!ex) {
		h2conn_reset_stream(m->h2c, sid, H2_REFUSED_STREAM);
		return;
	}
	front_link(m, ex);
	h2conn_set_stream_user(m->h2c, sid, ex);
	exch_start(ex);
	if (h->end_stream)
		exch_req_end(ex);
}

static void on_request_data(void *ctx, int32_t sid, const char *data, size_t len)
{
	struct conn *c = ctx;
	struct mitm *m = c->mitm;
	struct exch *ex = stream_exch(m, sid);

	if (!ex) {
		h2conn_window_consumed(m->h2c, sid, len);
		return;
	}
	if (!exch_req_data(ex, data, len)) {
		h2conn_reset_stream(m->h2c, sid, H2_INTERNAL_ERROR);
		h2conn_set_stream_user(m->h2c, sid, NULL);
		front_unlink(m, ex);
		exch_front_detach(ex, false);
		return;
	}
	if (ex->local)
		h2conn_window_consumed(m->h2c, sid, len); /* answered already: nobody takes it */
}

static void on_request_end(void *ctx, int32_t sid)
{
	struct conn *c = ctx;
	struct exch *ex = stream_exch(c->mitm, sid);

	if (ex)
		exch_req_end(ex);
}

/* The stream is already gone from h2conn when its reset is reported: find it in our list. */
static struct exch *exch_by_sid(struct mitm *m, int32_t sid)
{
	for (struct exch *ex = m->xh; ex; ex = ex->fnext)
		if (ex->fsid == sid)
			return ex;
	return NULL;
}

static void on_stream_reset(void *ctx, int32_t sid, uint32_t code)
{
	struct conn *c = ctx;
	struct mitm *m = c->mitm;
	struct exch *ex = exch_by_sid(m, sid);

	if (!ex)
		return;
	front_unlink(m, ex);
	ex->end_note = code == H2_NO_ERROR ? NULL : "client_reset";
	exch_front_detach(ex, code == H2_NO_ERROR && ex->resp_end && ex->resp_q.len == 0);
}

static void on_data_sent(void *ctx, int32_t sid, size_t len)
{
	struct conn *c = ctx;
	struct exch *ex = stream_exch(c->mitm, sid);

	if (ex)
		exch_resp_taken(ex, len);
}

static const struct h2conn_callbacks front_h2_callbacks = {
	.request_head = on_request_head,
	.request_data = on_request_data,
	.request_end = on_request_end,
	.stream_reset = on_stream_reset,
	.data_sent = on_data_sent,
};

bool front_h2_start(struct conn *c)
{
	struct mitm *m = c->mitm;
	char err[128];

	m->h2c = h2conn_new(H2_SERVER, &front_h2_callbacks, c, err, sizeof(err));
	if (!m->h2c) {
		conn_close(c, "no_memory");
		return false;
	}
	return true;
}

void front_h2_free(struct mitm *m)
{
	h2conn_free(m->h2c);
	m->h2c = NULL;
}

void front_h2_credit(struct conn *c, int32_t sid, size_t n)
{
	struct mitm *m = c->mitm;

	if (m->h2c && sid > 0)
		h2conn_window_consumed(m->h2c, sid, n);
}

/* The stream of <ex> is over on our side. */
static void stream_done(struct mitm *m, struct exch *ex, bool complete)
{
	h2conn_set_stream_user(m->h2c, ex->fsid, NULL);
	front_unlink(m, ex);
	exch_front_detach(ex, complete);
}

/* Exchange -> client for one stream. Returns 1 on progress. */
static int write_stream(struct conn *c, struct exch *ex)
{
	struct mitm *m = c->mitm;
	int progress = 0;

	if (ex->aborted) {
		h2conn_reset_stream(m->h2c, ex->fsid, H2_INTERNAL_ERROR);
		stream_done(m, ex, false);
		return 1;
	}
	if (!ex->resp_has_head)
		return 0;
	if (!ex->resp_head_sent) {
		struct http_field f[H2_MAX_FIELDS + 1];
		char digits[24];
		bool has_body = !(ex->resp_end && ex->resp_q.len == 0) &&
				strcmp(ex->req.method, "HEAD") != 0;
		int n = xhead_h2_fields(&ex->resp, f, H2_MAX_FIELDS + 1, digits), rc;

		rc = n < 0 ? n
			   : h2conn_submit_response(m->h2c, ex->fsid, ex->resp.status, f, (size_t)n,
						    has_body);
		if (rc < 0) {
			log_warn("flow id=%llu stream %d: response head cannot be sent: %s",
				 (unsigned long long)c->id, ex->fsid, h2conn_error(m->h2c));
			h2conn_reset_stream(m->h2c, ex->fsid, H2_INTERNAL_ERROR);
			stream_done(m, ex, false);
			return 1;
		}
		ex->resp_head_sent = true;
		progress = 1;
		if (!has_body) {
			bq_clear(&ex->resp_q);
			stream_done(m, ex, ex->resp_end);
			return 1;
		}
	}
	{
		bool ended = false;

		progress |= relay_to_h2(&ex->resp_q, m->h2c, ex->fsid, ex->resp_end, &ended);
		if (ended) {
			stream_done(m, ex, true);
			return 1;
		}
	}
	return progress;
}

static int drain(struct conn *c)
{
	return relay_h2_out(c->mitm->h2c, &c->mitm->cout, &c->u2c.bytes);
}

bool front_h2_drive(struct conn *c)
{
	struct mitm *m = c->mitm;
	int p, r, guard = 0;

	do {
		struct exch *ex, *next;
		size_t before = m->cin.len;

		p = 0;
		r = tls_read_into(m->cs, &m->cin, MBUF_DEFAULT, &m->client_eof, &m->readable);
		if (r < 0) {
			conn_close(c, "client_error");
			return false;
		}
		c->c2u.bytes += m->cin.len - before;
		p |= r;
		if (m->cin.len) {
			ssize_t n = h2conn_feed(m->h2c, (const uint8_t *)m->cin.p, m->cin.len);

			mbuf_consume(&m->cin, m->cin.len);
			if (c->dead)
				return false;
			if (n < 0) {
				atomic_fetch_add(&c->w->ag->stats.http_errors, 1);
				log_warn("flow id=%llu HTTP/2 error from client: %s",
					 (unsigned long long)c->id, h2conn_error(m->h2c));
				drain(c);
				tls_write_from(m->cs, &m->cout);
				conn_close(c, "client_h2_error");
				return false;
			}
			p = 1;
		}
		for (ex = m->xh; ex; ex = next) {
			next = ex->fnext;
			p |= write_stream(c, ex);
		}
		r = drain(c);
		if (r < 0) {
			conn_close(c, "h2_error");
			return false;
		}
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
	if (m->client_eof || (!h2conn_want_io(m->h2c) && m->cout.len == 0)) {
		conn_close(c, "eof");
		return false;
	}
	return true;
}
