/* up_h1: HTTP/1.1 on a pooled provider connection, one exchange at a time. The request head is
 * written from the neutral form and the body framed by its known length or chunked; the
 * response is parsed strictly (h1.c) and its decoded body handed to the exchange as it arrives.
 * A connection is reused only when the response allows it and the request was sent whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "agent.h"
#include "exch.h"
#include "log.h"
#include "relay.h"
#include "upconn.h"

static bool write_head(struct upconn *u, struct exch *ex)
{
	bool has_body = ex->req.content_length != 0 && !ex->tunnel;
	char *t = mbuf_tail(&u->out, 4096);
	int n = t ? xhead_write_h1_request(&ex->req, has_body, t, 4096) : -ENOMEM;

	if (n == -ENOSPC) {
		t = mbuf_tail(&u->out, H1_MAX_HEAD + 4096);
		n = t ? xhead_write_h1_request(&ex->req, has_body, t, H1_MAX_HEAD + 4096) : -ENOMEM;
	}
	if (n < 0) {
		log_warn("upconn id=%llu request head for %s cannot be written: %s",
			 (unsigned long long)u->id, u->key->sni, strerror(-n));
		return false;
	}
	mbuf_commit(&u->out, (size_t)n);
	u->req_chunked = has_body && ex->req.content_length < 0;
	ex->req_head_sent = true;
	if (!has_body && !ex->tunnel) /* a tunnel's bytes come after the 101 */
		ex->req_all_sent = true;
	return true;
}

/* Request body bytes from the exchange to the TLS buffer. Returns 1 on progress. */
static int move_body(struct upconn *u, struct exch *ex)
{
	uint64_t wire = 0;
	size_t n = relay_to_h1(&ex->req_q, &u->out, u->req_chunked, &wire);
	int progress = n > 0;

	if (n)
		exch_req_taken(ex, n);
	if (ex->req_end && ex->req_q.len == 0 && !ex->req_all_sent) {
		if (u->req_chunked && !mbuf_put(&u->out, "0\r\n\r\n", 5))
			return progress;
		ex->req_all_sent = true;
		progress = 1;
	}
	return progress;
}

static int on_resp_data(void *ctx, const char *data, size_t len)
{
	return exch_resp_data(ctx, data, len) ? 0 : -ENOMEM;
}

/* The response ended: the exchange is done here; keep the connection if it allows. */
static bool finish(struct upconn *u, struct exch *ex)
{
	bool keep = u->reusable && ex->req_all_sent && !u->eof;

	u->resp_in_body = false;
	exch_resp_end(ex);
	if (!keep)
		u->goaway = true;
	upconn_detach(u, ex);
	if (u->state == UPC_DEAD)
		return false;
	if (!keep) {
		upconn_close(u, "not_reusable", NULL);
		return false;
	}
	return true;
}

static void protocol_error(struct upconn *u, const char *what, const char *err)
{
	atomic_fetch_add(&u->w->ag->stats.http_errors, 1);
	log_warn("upconn id=%llu sni=%s malformed response: %s%s%s", (unsigned long long)u->id,
		 u->key->sni, what, err[0] ? ": " : "", err);
	upconn_close(u, "bad_response", "modelux: malformed response from the provider\n");
}

/* Returns -1 when the connection was closed, else 1 on progress / 0 when stuck. */
static int read_responses(struct upconn *u)
{
	char err[256] = "";
	int progress = 0;

	while (u->in.len) {
		struct exch *ex = u->xh;

		if (!ex) {
			protocol_error(u, "bytes with no request pending", "");
			return -1;
		}
		if (!u->resp_in_body) {
			/* Per worker thread, not per response: heads are parsed one at a time. */
			static __thread struct h1_head head;
			struct h1_head *h = &head;
			struct xhead x;
			int n;

			n = h1_parse_head(u->in.p, u->in.len, H1_RESPONSE, h, err, sizeof(err));
			if (n == 0)
				return progress;
			if (n < 0 || (h->status == 101 && !ex->tunnel) ||
			    xhead_from_h1_response(&x, h, err, sizeof(err)) < 0) {
				protocol_error(u, n < 0 ? "head" : "unusable head", err);
				return -1;
			}
			progress = 1;
			if (h->status == 101) {
				/* The WebSocket upgrade was accepted: a tunnel body (h1.c) until
				 * the provider closes, and never another exchange here. */
				ex->tunnel_open = true;
			} else if (h->status < 200) {
				/* interim (100 Continue): the final response follows */
				xhead_free(&x);
				mbuf_consume(&u->in, (size_t)n);
				continue;
			}
			h1_body_init(&u->respb, h, ex->req.method, strlen(ex->req.method));
			u->reusable = h->keep_alive && !ex->tunnel_open;
			mbuf_consume(&u->in, (size_t)n);
			u->resp_in_body = true;
			exch_resp_head(ex, &x);
		}
		{
			size_t room = ex->front ? (ex->resp_q.len < EXCH_QUEUE_CAP
						       ? EXCH_QUEUE_CAP - ex->resp_q.len
						       : 0)
						: u->in.len;
			size_t want = u->in.len < room ? u->in.len : room;
			int n = 0;

			if (want && !h1_body_done(&u->respb))
				n = h1_body_feed(&u->respb, u->in.p, want, on_resp_data, ex, err,
						 sizeof(err));
			if (n < 0) {
				protocol_error(u, "body", err);
				return -1;
			}
			if (n > 0) {
				mbuf_consume(&u->in, (size_t)n);
				progress = 1;
			}
			if (h1_body_done(&u->respb)) {
				if (!finish(u, ex))
					return -1;
				progress = 1;
				continue;
			}
			if (n == 0)
				return progress;
		}
	}
	return progress;
}

static size_t read_limit(const struct upconn *u)
{
	/* A head larger than the default buffer needs a larger one until it is complete. */
	if (!u->resp_in_body && u->in.len >= MBUF_DEFAULT)
		return H1_MAX_HEAD + 1;
	return MBUF_DEFAULT;
}

bool up_h1_drive(struct upconn *u)
{
	int p, r, guard = 0;
	char err[256];

	do {
		struct exch *ex = u->xh;

		p = 0;
		if (ex && !ex->req_head_sent) {
			if (!write_head(u, ex)) {
				upconn_close(u, "bad_request_head",
					     "modelux: the request cannot be forwarded\n");
				return false;
			}
			p = 1;
		}
		/* A tunnel's client bytes go only once the provider switched; refused, the
		 * exchange ends here with nothing more to send. */
		if (ex && ex->req_head_sent && !ex->req_all_sent &&
		    (!ex->tunnel || ex->tunnel_open || (ex->req_end && ex->req_q.len == 0)))
			p |= move_body(u, ex);
		r = tls_write_from(u->ssl, &u->out);
		if (r < 0) {
			upconn_close(u, "write_error", NULL);
			return false;
		}
		p |= r;
		if (ex && ex->tunnel_open && ex->req_all_sent && u->out.len == 0 && !u->shut_sent) {
			/* The client closed its side and all it sent went on: close ours the same
			 * way (close_notify), and read on until the provider closes. */
			u->shut_sent = true;
			SSL_shutdown(u->ssl);
			ERR_clear_error();
		}
		if (!ex || !ex->front || ex->resp_q.len < EXCH_QUEUE_CAP) {
			if (u->in.len >= H1_MAX_HEAD + 1) {
				protocol_error(u, "head too large", "");
				return false;
			}
			r = tls_read_into(u->ssl, &u->in, read_limit(u), &u->eof, &u->readable);
			if (r < 0) {
				upconn_close(u, "read_error", NULL);
				return false;
			}
			p |= r;
		}
		r = read_responses(u);
		if (r < 0)
			return false;
		p |= r;
	} while (p && ++guard < 1024);

	if (guard >= 1024)
		upconn_kick(u); /* more to do: yield to the others first */
	if (u->eof && u->in.len == 0) {
		struct exch *ex = u->xh;

		if (ex && u->resp_in_body && h1_body_eof(&u->respb, err, sizeof(err)) == 0) {
			finish(u, ex); /* a body delimited by the end of the connection */
			if (u->state == UPC_DEAD)
				return false;
		}
		upconn_close(u, ex ? "provider_closed" : "provider_closed_idle",
			     "modelux: the provider closed the connection\n");
		return false;
	}
	return true;
}
