/* up_h2: HTTP/2 on a pooled provider connection: each exchange is a stream, up to the
 * provider's concurrency limit. Request bodies leave as the provider's windows allow and their
 * credit goes back to the client side as they are sent; response data is credited to the
 * provider only once the client side took it (h2conn), so a slow client slows its own stream
 * and nothing else. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "exch.h"
#include "h2conn.h"
#include "log.h"
#include "relay.h"
#include "upconn.h"

#define H2_REFUSED_STREAM 0x7
#define H2_CANCEL 0x8

static struct exch *stream_exch(struct upconn *u, int32_t sid)
{
	return h2conn_stream_user(u->h2c, sid);
}

static void on_response_head(void *ctx, int32_t sid, const struct h2_head *h)
{
	struct upconn *u = ctx;
	struct exch *ex = stream_exch(u, sid);
	struct xhead x;
	char err[256];

	if (!ex)
		return;
	if (xhead_from_h2_response(&x, h, err, sizeof(err)) < 0) {
		h2conn_reset_stream(u->h2c, sid, 0x2);
		h2conn_set_stream_user(u->h2c, sid, NULL);
		exch_fail(ex, "bad_response", "modelux: unusable response from the provider\n");
		upconn_detach(u, ex);
		return;
	}
	exch_resp_head(ex, &x);
}

static void on_response_data(void *ctx, int32_t sid, const char *data, size_t len)
{
	struct upconn *u = ctx;
	struct exch *ex = stream_exch(u, sid);

	if (!ex || !ex->front) {
		h2conn_window_consumed(u->h2c, sid, len); /* nobody will take it */
		return;
	}
	if (!exch_resp_data(ex, data, len)) {
		h2conn_reset_stream(u->h2c, sid, 0x2);
		h2conn_set_stream_user(u->h2c, sid, NULL);
		exch_fail(ex, "no_memory", "modelux: out of memory\n");
		upconn_detach(u, ex);
	}
}

static void on_response_end(void *ctx, int32_t sid)
{
	struct upconn *u = ctx;
	struct exch *ex = stream_exch(u, sid);

	if (!ex)
		return;
	h2conn_set_stream_user(u->h2c, sid, NULL);
	exch_resp_end(ex);
	if (!ex->req_all_sent) {
		/* Answered before the request body ended: the rest is not wanted. */
		h2conn_reset_stream(u->h2c, sid, 0x0);
		ex->req_all_sent = true;
	}
	upconn_detach(u, ex);
}

/* The stream is already gone from h2conn when its reset is reported: find it in our list. */
static struct exch *exch_by_sid(struct upconn *u, int32_t sid)
{
	for (struct exch *ex = u->xh; ex; ex = ex->unext)
		if (ex->usid == sid)
			return ex;
	return NULL;
}

static void on_stream_reset(void *ctx, int32_t sid, uint32_t code)
{
	struct upconn *u = ctx;
	struct exch *ex = exch_by_sid(u, sid);
	char text[128];

	if (!ex)
		return;
	if (code == H2_REFUSED_STREAM && ex->req_taken == 0 && !ex->resp_has_head && !ex->retried &&
	    ex->front) {
		/* Not processed (RFC 9113 8.7): safe to send again elsewhere. */
		upconn_retry(u, ex);
		return;
	}
	snprintf(text, sizeof(text), "modelux: the provider reset the stream (HTTP/2 error %u)\n",
		 code);
	exch_fail(ex, "stream_reset", text);
	upconn_detach(u, ex);
}

static void on_data_sent(void *ctx, int32_t sid, size_t len)
{
	struct upconn *u = ctx;
	struct exch *ex = stream_exch(u, sid);

	if (ex)
		exch_req_taken(ex, len);
}

static void on_goaway(void *ctx, uint32_t code, int32_t last_sid)
{
	struct upconn *u = ctx;

	u->goaway = true;
	log_debug("upconn id=%llu sni=%s GOAWAY code=%u last_stream=%d", (unsigned long long)u->id,
		  u->key->sni, code, last_sid);
}

static const struct h2conn_callbacks up_h2_callbacks = {
	.response_head = on_response_head,
	.response_data = on_response_data,
	.response_end = on_response_end,
	.stream_reset = on_stream_reset,
	.data_sent = on_data_sent,
	.goaway = on_goaway,
};

bool up_h2_start(struct upconn *u)
{
	char err[128];

	u->h2c = h2conn_new(H2_CLIENT, &up_h2_callbacks, u, err, sizeof(err));
	return u->h2c != NULL;
}

void up_h2_free(struct upconn *u)
{
	h2conn_free(u->h2c);
	u->h2c = NULL;
}

/* Open the stream of <ex>. false when it was taken off this connection. */
static bool submit(struct upconn *u, struct exch *ex)
{
	struct http_field f[H2_MAX_FIELDS + 1];
	char digits[24];
	int n = xhead_h2_fields(&ex->req, f, H2_MAX_FIELDS + 1, digits);
	bool has_body = ex->req.content_length != 0;
	int32_t sid;

	sid = n < 0 ? -E2BIG
		    : h2conn_submit_request(u->h2c, ex->req.method, ex->req.scheme,
					    ex->req.authority, ex->req.path, f, (size_t)n, has_body);
	if (sid == -EPIPE && ex->req_taken == 0 && !ex->retried) {
		upconn_retry(u, ex);
		return false;
	}
	if (sid < 0) {
		log_info("upconn id=%llu request cannot be sent: %s", (unsigned long long)u->id,
			 h2conn_error(u->h2c));
		exch_fail(ex, "bad_request_head", "modelux: the request cannot be forwarded\n");
		upconn_detach(u, ex);
		return false;
	}
	ex->usid = sid;
	h2conn_set_stream_user(u->h2c, sid, ex);
	ex->req_head_sent = true;
	if (!has_body)
		ex->req_all_sent = true;
	return true;
}

static int move_body(struct upconn *u, struct exch *ex)
{
	bool ended = false;
	int progress = relay_to_h2(&ex->req_q, u->h2c, ex->usid, ex->req_end, &ended);

	if (ended)
		ex->req_all_sent = true;
	return progress;
}

static int drain(struct upconn *u)
{
	uint64_t wire = 0;

	return relay_h2_out(u->h2c, &u->out, &wire);
}

bool up_h2_drive(struct upconn *u)
{
	int p, r, guard = 0;
	uint32_t remote;

	do {
		struct exch *ex, *next;

		p = 0;
		remote = h2conn_remote_max_streams(u->h2c);
		u->max_streams = remote < UPOOL_H2_STREAMS ? (remote ? remote : 1) : UPOOL_H2_STREAMS;
		for (ex = u->xh; ex; ex = next) {
			next = ex->unext;
			if (!ex->req_head_sent) {
				if (!submit(u, ex))
					continue;
				p = 1;
			}
			if (!ex->req_all_sent)
				p |= move_body(u, ex);
		}
		r = drain(u);
		if (r < 0) {
			upconn_close(u, "h2_error", NULL);
			return false;
		}
		p |= r;
		r = tls_write_from(u->ssl, &u->out);
		if (r < 0) {
			upconn_close(u, "write_error", NULL);
			return false;
		}
		p |= r;
		r = tls_read_into(u->ssl, &u->in, MBUF_DEFAULT, &u->eof, &u->readable);
		if (r < 0) {
			upconn_close(u, "read_error", NULL);
			return false;
		}
		p |= r;
		if (u->in.len) {
			ssize_t n = h2conn_feed(u->h2c, (const uint8_t *)u->in.p, u->in.len);

			mbuf_consume(&u->in, u->in.len);
			if (u->state == UPC_DEAD)
				return false;
			if (n < 0) {
				atomic_fetch_add(&u->w->ag->stats.http_errors, 1);
				log_warn("upconn id=%llu sni=%s HTTP/2 error: %s",
					 (unsigned long long)u->id, u->key->sni, h2conn_error(u->h2c));
				drain(u);
				tls_write_from(u->ssl, &u->out);
				upconn_close(u, "h2_protocol_error",
					     "modelux: HTTP/2 protocol error from the provider\n");
				return false;
			}
			p = 1;
		}
	} while (p && ++guard < 1024);

	if (guard >= 1024)
		upconn_kick(u);
	if (u->eof || !h2conn_want_io(u->h2c)) {
		upconn_close(u, u->eof ? "provider_closed" : "h2_done",
			     "modelux: the provider closed the connection\n");
		return false;
	}
	if (u->goaway && u->nex == 0) {
		upconn_close(u, "goaway", NULL);
		return false;
	}
	return true;
}

void up_h2_cancel(struct upconn *u, struct exch *ex)
{
	if (ex->usid > 0) {
		h2conn_set_stream_user(u->h2c, ex->usid, NULL);
		h2conn_reset_stream(u->h2c, ex->usid, H2_CANCEL);
	}
	upconn_kick(u);
}
