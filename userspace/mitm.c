/* mitm: see mitm.h. One drive loop per event: read TLS into plaintext buffers, move whole HTTP
 * heads and streaming body bytes across (through the hook), write TLS out, until nothing moves.
 * Bodies are passed with their framing verbatim (validated by h1_body_feed on the way), so SSE
 * events leave as soon as they arrive and nothing is re-chunked. */
#include "mitm.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "certmint.h"
#include "conn.h"
#include "h1.h"
#include "log.h"
#include "ossl_err.h"

#define MITM_BUF 16384

enum mitm_state {
	MITM_CLIENT_HS = 1, /* our server handshake with the client */
	MITM_UP_CONNECT,    /* TCP connect to the provider */
	MITM_UP_HS,         /* our client handshake with the provider */
	MITM_HTTP,          /* proxying */
};

struct mbuf {
	char *p;
	size_t len;
};

struct mitm {
	SSL *cs; /* client side: we are the server */
	SSL *us; /* provider side: we are the client */
	enum mitm_state state;
	char alpn[16];
	struct mbuf cin, cout, uin, uout;
	/* request side */
	bool req_in_body;
	struct h1_body reqb;
	char method[24];
	/* response side */
	bool awaiting_response; /* a request was forwarded and its final response has not ended */
	bool resp_in_body;
	struct h1_body respb;
	bool close_after;       /* close once cout is flushed (Connection: close, errors) */
	bool client_eof, upstream_eof;
	bool upstream_dead;     /* no upstream: answer locally then close */
	/* the current exchange */
	struct http_exchange ex;
	char path[512], authority[256];
	int64_t req_start_ms, ttfb_ms;
	uint64_t req_bytes, resp_bytes;
	int status;
};

static struct mitm *M(struct conn *c)
{
	return c->mitm;
}

/* ---- buffers ------------------------------------------------------------------------------ */

static bool mbuf_ensure(struct mbuf *b)
{
	if (!b->p)
		b->p = malloc(MITM_BUF);
	return b->p != NULL;
}

static size_t mbuf_room(const struct mbuf *b)
{
	return MITM_BUF - b->len;
}

static bool mbuf_put(struct mbuf *b, const char *p, size_t n)
{
	if (!mbuf_ensure(b) || n > mbuf_room(b))
		return false;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return true;
}

static void mbuf_consume(struct mbuf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (b->len == 0) {
		/* Idle connections hold no plaintext buffers. */
		free(b->p);
		b->p = NULL;
	}
}

/* ---- TLS I/O ------------------------------------------------------------------------------- */


/* Read plaintext into <b>. Returns 1 on progress, 0 when it would block, -1 on error; sets *eof. */
static int tls_read(SSL *s, struct mbuf *b, bool *eof)
{
	int n, progress = 0;

	if (*eof)
		return 0;
	while (mbuf_room(b) > 0 || !b->p) {
		if (!mbuf_ensure(b))
			return -1;
		n = SSL_read(s, b->p + b->len, (int)mbuf_room(b));
		if (n > 0) {
			b->len += n;
			progress = 1;
			continue;
		}
		if (b->len == 0) {
			free(b->p);
			b->p = NULL;
		}
		switch (SSL_get_error(s, n)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return progress;
		case SSL_ERROR_ZERO_RETURN:
			*eof = true;
			return 1;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET)) {
				*eof = true; /* peer closed without close_notify */
				ERR_clear_error();
				return 1;
			}
			return -1;
		default:
			return -1;
		}
	}
	return progress;
}

static int tls_write(SSL *s, struct mbuf *b)
{
	int n, progress = 0;

	while (b->len) {
		n = SSL_write(s, b->p, (int)b->len);
		if (n > 0) {
			mbuf_consume(b, n);
			progress = 1;
			continue;
		}
		switch (SSL_get_error(s, n)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return progress;
		default:
			return -1;
		}
	}
	return progress;
}

/* ---- local answers ------------------------------------------------------------------------ */

/* Answer the client ourselves (502 when the provider cannot be reached safely, 400 on garbage)
 * and close after it is sent. */
static void answer_local(struct conn *c, int status, const char *reason, const char *ctype,
			 const char *body, size_t body_len)
{
	struct mitm *m = M(c);
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\nX-Modelux: local\r\n\r\n",
			 status, reason, ctype, body_len);

	if (mbuf_put(&m->cout, head, n) && mbuf_put(&m->cout, body, body_len))
		c->u2c.bytes += n + body_len;
	else
		log_warn("flow id=%llu local answer %d did not fit", (unsigned long long)c->id, status);
	m->close_after = true;
	m->status = status;
}

static void answer_text(struct conn *c, int status, const char *reason, const char *text)
{
	answer_local(c, status, reason, "text/plain; charset=utf-8", text, strlen(text));
}

/* ---- HTTP/1.1 --------------------------------------------------------------------------- */

struct feed_ctx {
	struct conn *c;
	bool response;
};

static int on_body_data(void *arg, const char *data, size_t len)
{
	struct feed_ctx *f = arg;
	struct agent *ag = f->c->w->ag;
	struct mitm *m = M(f->c);

	if (f->response && ag->hook.response_data)
		ag->hook.response_data(ag->hook.ctx, &m->ex, data, len);
	else if (!f->response && ag->hook.request_data)
		ag->hook.request_data(ag->hook.ctx, &m->ex, data, len);
	return 0;
}

/* Move validated body bytes of <b> from <in> to <out> (as many as <out> can take), passing the
 * decoded payload to the hook. Framing bytes travel verbatim. Returns bytes moved or -1. */
static int forward_body(struct conn *c, struct h1_body *b, struct mbuf *in, struct mbuf *out,
			bool response)
{
	struct feed_ctx f = { c, response };
	size_t want = in->len < mbuf_room(out) ? in->len : mbuf_room(out);
	char err[256];
	int n;

	if (h1_body_done(b) || want == 0)
		return 0;
	n = h1_body_feed(b, in->p, want, on_body_data, &f, err, sizeof(err));
	if (n < 0) {
		atomic_fetch_add(&c->w->ag->stats.http_errors, 1);
		log_warn("flow id=%llu malformed %s body: %s", (unsigned long long)c->id,
			 response ? "response" : "request", err);
		return -1;
	}
	mbuf_put(out, in->p, n);
	mbuf_consume(in, n);
	return n;
}

/* Log one exchange. The path is cut at '?' so query-string secrets (?key=...) never reach logs. */
static void exchange_end(struct conn *c, int reset)
{
	struct mitm *m = M(c);
	struct agent *ag = c->w->ag;
	size_t plen = strcspn(m->path, "?");

	if (ag->hook.response_end)
		ag->hook.response_end(ag->hook.ctx, &m->ex, reset);
	log_info("http id=%llu.%llu proto=%s method=%s path=%.*s%s status=%d req_bytes=%llu "
		 "resp_bytes=%llu ttfb_ms=%lld dur_ms=%lld%s",
		 (unsigned long long)c->id, (unsigned long long)m->ex.seq, m->alpn, m->method,
		 (int)plen, m->path, m->path[plen] ? "?<redacted>" : "", m->status,
		 (unsigned long long)m->req_bytes, (unsigned long long)m->resp_bytes,
		 (long long)m->ttfb_ms, (long long)(mono_ms() - m->req_start_ms),
		 reset ? " end=reset" : "");
	m->awaiting_response = false;
	m->resp_in_body = false;
}

static void copy_span(char *dst, size_t cap, struct h1_span s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;

	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

/* Start an exchange from a parsed request head: hook first, then forward the head verbatim. */
static bool request_head(struct conn *c, const struct h1_head *h)
{
	struct mitm *m = M(c);
	struct agent *ag = c->w->ag;
	struct http_field fields[H1_MAX_HEADERS];
	struct hook_answer ans = { 0 };
	size_t i;

	copy_span(m->method, sizeof(m->method), h->method);
	copy_span(m->path, sizeof(m->path), h->target);
	m->authority[0] = '\0';
	if (h->host.p)
		copy_span(m->authority, sizeof(m->authority), h->host);
	for (i = 0; i < h->nheaders; i++)
		fields[i] = (struct http_field){ h->headers[i].name.p, h->headers[i].value.p,
						 h->headers[i].name.len, h->headers[i].value.len };
	m->ex = (struct http_exchange){
		.flow_id = c->id,
		.seq = m->ex.seq + 1,
		.provider = c->provider >= 0 ? c->snap->cfg.providers[c->provider].name : "",
		.sni = c->sni.server_name,
		.proto = m->alpn,
		.method = m->method,
		.path = m->path,
		.authority = m->authority,
		.fields = fields,
		.nfields = h->nheaders,
	};
	m->req_start_ms = mono_ms();
	m->ttfb_ms = -1;
	m->req_bytes = m->resp_bytes = 0;
	m->status = 0;
	atomic_fetch_add(&ag->stats.http_requests, 1);
	if (ag->hook.request_head &&
	    ag->hook.request_head(ag->hook.ctx, &m->ex, &ans) == HOOK_ANSWER) {
		answer_local(c, ans.status, "Modelux", ans.content_type ? ans.content_type : "text/plain",
			     ans.body ? ans.body : "", ans.body_len);
		m->ex.fields = NULL;
		exchange_end(c, 0);
		return false;
	}
	m->ex.fields = NULL; /* the spans die with the input buffer */
	if (!h->keep_alive)
		m->close_after = true;
	return true;
}

/* Client -> provider. Requests are forwarded one at a time: a pipelined request waits in cin
 * until the previous response has ended, so responses can never be mismatched. */
static int process_requests(struct conn *c)
{
	struct mitm *m = M(c);
	char err[256];
	int progress = 0;

	while (m->cin.len && !m->close_after) {
		if (!m->req_in_body) {
			struct h1_head *h;
			int n;

			if (m->awaiting_response)
				return progress;
			h = malloc(sizeof(*h));
			if (!h)
				return -1;
			n = h1_parse_head(m->cin.p, m->cin.len, H1_REQUEST, h, err, sizeof(err));
			if (n == 0 && m->cin.len == MITM_BUF)
				n = -E2BIG;
			if (n == 0) {
				free(h);
				return progress;
			}
			if (n < 0) {
				free(h);
				atomic_fetch_add(&c->w->ag->stats.http_errors, 1);
				log_warn("flow id=%llu malformed request from client: %s",
					 (unsigned long long)c->id, err);
				answer_text(c, n == -E2BIG ? 431 : 400,
					    n == -E2BIG ? "Request Header Fields Too Large" : "Bad Request",
					    "modelux: malformed HTTP request\n");
				return 1;
			}
			if ((size_t)n > mbuf_room(&m->uout)) {
				free(h);
				return progress; /* wait for the provider to take what is queued */
			}
			if (!request_head(c, h)) {
				free(h);
				mbuf_consume(&m->cin, n);
				return 1;
			}
			mbuf_put(&m->uout, m->cin.p, n);
			h1_body_init(&m->reqb, h, NULL, 0);
			free(h);
			mbuf_consume(&m->cin, n);
			m->req_in_body = true;
			m->awaiting_response = true;
			progress = 1;
		}
		if (m->req_in_body) {
			int n = forward_body(c, &m->reqb, &m->cin, &m->uout, false);

			if (n < 0)
				return -1;
			m->req_bytes += n;
			c->c2u.bytes += n;
			if (n)
				progress = 1;
			if (h1_body_done(&m->reqb))
				m->req_in_body = false;
			else if (n == 0)
				return progress;
		}
	}
	return progress;
}

/* Provider -> client, streaming: body bytes go out in the same drive loop they arrive in. */
static int process_responses(struct conn *c)
{
	struct mitm *m = M(c);
	struct agent *ag = c->w->ag;
	char err[256];
	int progress = 0;

	while (m->uin.len) {
		if (!m->awaiting_response) {
			/* Bytes nobody asked for: a broken or hostile upstream. */
			atomic_fetch_add(&ag->stats.http_errors, 1);
			log_warn("flow id=%llu provider sent data with no request pending",
				 (unsigned long long)c->id);
			return -1;
		}
		if (!m->resp_in_body) {
			struct h1_head *h = malloc(sizeof(*h));
			int n;

			if (!h)
				return -1;
			n = h1_parse_head(m->uin.p, m->uin.len, H1_RESPONSE, h, err, sizeof(err));
			if (n == 0 && m->uin.len == MITM_BUF)
				n = -E2BIG;
			if (n == 0) {
				free(h);
				return progress;
			}
			if (n < 0) {
				free(h);
				atomic_fetch_add(&ag->stats.http_errors, 1);
				log_warn("flow id=%llu malformed response from provider: %s",
					 (unsigned long long)c->id, err);
				if (m->resp_bytes == 0)
					answer_text(c, 502, "Bad Gateway",
						    "modelux: malformed response from the provider\n");
				return m->resp_bytes == 0 ? 1 : -1;
			}
			if ((size_t)n > mbuf_room(&m->cout)) {
				free(h);
				return progress;
			}
			if (m->ttfb_ms < 0)
				m->ttfb_ms = mono_ms() - m->req_start_ms;
			mbuf_put(&m->cout, m->uin.p, n);
			mbuf_consume(&m->uin, n);
			m->resp_bytes += n;
			progress = 1;
			if (h->status >= 100 && h->status < 200 && h->status != 101) {
				free(h);
				continue; /* interim (100 Continue): the final response follows */
			}
			m->status = h->status;
			m->ex.status = h->status;
			if (!h->keep_alive)
				m->close_after = true;
			h1_body_init(&m->respb, h, m->method, strlen(m->method));
			free(h);
			if (ag->hook.response_head)
				ag->hook.response_head(ag->hook.ctx, &m->ex);
			m->resp_in_body = true;
		}
		{
			int n = forward_body(c, &m->respb, &m->uin, &m->cout, true);

			if (n < 0)
				return -1;
			m->resp_bytes += n;
			c->u2c.bytes += n;
			if (n)
				progress = 1;
			if (h1_body_done(&m->respb))
				exchange_end(c, 0);
			else if (n == 0)
				return progress;
		}
	}
	/* A body delimited by the connection's end. */
	if (m->upstream_eof && m->resp_in_body && !h1_body_done(&m->respb)) {
		if (h1_body_eof(&m->respb, err, sizeof(err)) == 0) {
			exchange_end(c, 0);
		} else {
			log_info("flow id=%llu provider closed mid-response: %s",
				 (unsigned long long)c->id, err);
			exchange_end(c, 1);
		}
		m->close_after = true;
		progress = 1;
	}
	return progress;
}

/* ---- handshakes -------------------------------------------------------------------------- */

static bool is_cert_refusal(void)
{
	unsigned long e;

	while ((e = ERR_get_error())) {
		int r = ERR_GET_REASON(e);

		if (r == SSL_R_TLSV1_ALERT_UNKNOWN_CA || r == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
		    r == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
		    r == SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE ||
		    r == SSL_R_TLSV1_ALERT_ACCESS_DENIED || r == SSL_R_TLSV1_ALERT_DECRYPT_ERROR) {
			ERR_clear_error();
			return true;
		}
	}
	return false;
}

static void client_handshake(struct conn *c)
{
	struct mitm *m = M(c);
	struct agent *ag = c->w->ag;
	int r = SSL_do_handshake(m->cs), e;
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	char buf[256];

	if (r == 1) {
		SSL_get0_alpn_selected(m->cs, &alpn, &alen);
		snprintf(m->alpn, sizeof(m->alpn), "%.*s", (int)alen, alpn ? (const char *)alpn : "");
		if (!m->alpn[0])
			snprintf(m->alpn, sizeof(m->alpn), "http/1.1");
		m->state = MITM_UP_CONNECT;
		atomic_fetch_add(&ag->stats.intercepted, 1);
		if (conn_connect_upstream(c) < 0) {
			m->upstream_dead = true;
			m->state = MITM_HTTP;
			answer_text(c, 502, "Bad Gateway", "modelux: cannot connect to the provider\n");
		}
		return;
	}
	e = SSL_get_error(m->cs, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	/* The client broke off after seeing our certificate: it pins, or does not trust our CA.
	 * Remember the pair so its next connection is spliced untouched. */
	if (is_cert_refusal() || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
		const char *exe = c->exe ? c->exe : "?";

		atomic_fetch_add(&ag->stats.pinned_refusals, 1);
		if (pinset_add(&ag->pinned, exe, c->sni.server_name))
			log_warn("flow id=%llu client refused our certificate exe=%s sni=%s: "
				 "pinned, its next connections are spliced",
				 (unsigned long long)c->id, exe, c->sni.server_name);
		conn_close(c, "client_refused_cert");
		return;
	}
	log_info("flow id=%llu client TLS handshake failed: %s", (unsigned long long)c->id,
		 ossl_err_text(buf, sizeof(buf), "connection closed"));
	conn_close(c, "client_tls_error");
}

static void upstream_handshake(struct conn *c)
{
	struct mitm *m = M(c);
	struct agent *ag = c->w->ag;
	int r = SSL_do_handshake(m->us), e;
	char buf[256], text[512];
	long vr;

	if (r == 1) {
		if (SSL_session_reused(m->us))
			atomic_fetch_add(&ag->stats.upstream_resumed, 1);
		m->state = MITM_HTTP;
		return;
	}
	e = SSL_get_error(m->us, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	vr = SSL_get_verify_result(m->us);
	if (vr != X509_V_OK) {
		atomic_fetch_add(&ag->stats.upstream_verify_fail, 1);
		snprintf(text, sizeof(text),
			 "modelux: refused to connect to %s: the provider's certificate failed "
			 "verification (%s)\n",
			 c->sni.server_name, X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else {
		snprintf(text, sizeof(text), "modelux: TLS handshake with %s failed (%s)\n",
			 c->sni.server_name, ossl_err_text(buf, sizeof(buf), "connection closed"));
	}
	log_warn("flow id=%llu %.*s", (unsigned long long)c->id, (int)strcspn(text, "\n"), text);
	m->upstream_dead = true;
	m->state = MITM_HTTP;
	answer_text(c, 502, "Bad Gateway", text);
}

static bool upstream_begin_tls(struct conn *c)
{
	struct mitm *m = M(c);
	static const unsigned char alpn_h1[] = "\x08http/1.1";

	m->us = SSL_new(c->w->ag->upstream_ctx);
	if (!m->us)
		return false;
	SSL_set_options(m->us, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_set_fd(m->us, c->up.fd);
	SSL_set_connect_state(m->us);
	SSL_set_tlsext_host_name(m->us, c->sni.server_name);
	/* Verify the provider's name, not just its chain. */
	if (!SSL_set1_host(m->us, c->sni.server_name))
		return false;
	SSL_set_alpn_protos(m->us, alpn_h1, sizeof(alpn_h1) - 1);
	sesscache_apply(&c->w->ag->sessions, m->us, c->sni.server_name);
	m->state = MITM_UP_HS;
	return true;
}

/* ---- drive ---------------------------------------------------------------------------------- */

static void drive_http(struct conn *c)
{
	struct mitm *m = M(c);
	int p, guard = 0;

	do {
		p = 0;
		int r;

		r = tls_read(m->cs, &m->cin, &m->client_eof);
		if (r < 0)
			goto client_broken;
		p |= r;
		r = process_requests(c);
		if (r < 0)
			goto client_broken;
		p |= r;
		if (!m->upstream_dead) {
			r = tls_write(m->us, &m->uout);
			if (r < 0)
				goto upstream_broken;
			p |= r;
			r = tls_read(m->us, &m->uin, &m->upstream_eof);
			if (r < 0)
				goto upstream_broken;
			p |= r;
		}
		r = process_responses(c);
		if (r < 0)
			goto upstream_broken;
		p |= r;
		r = tls_write(m->cs, &m->cout);
		if (r < 0)
			goto client_broken;
		p |= r;
	} while (p && ++guard < 1024);

	if (m->cout.len == 0 && (m->close_after || m->upstream_dead) && !m->resp_in_body) {
		SSL_shutdown(m->cs);
		conn_close(c, "eof");
		return;
	}
	if (m->client_eof && !m->awaiting_response && m->cout.len == 0) {
		conn_close(c, "eof");
		return;
	}
	if (m->upstream_eof && !m->awaiting_response && m->uin.len == 0) {
		/* The provider closed an idle keep-alive connection: so do we. */
		SSL_shutdown(m->cs);
		conn_close(c, "upstream_closed");
		return;
	}
	if (m->upstream_eof && m->awaiting_response && !m->resp_in_body && m->resp_bytes == 0) {
		answer_text(c, 502, "Bad Gateway", "modelux: the provider closed the connection\n");
		exchange_end(c, 1);
		m->upstream_dead = true;
		tls_write(m->cs, &m->cout);
		conn_close(c, "upstream_closed");
	}
	return;
client_broken:
	if (m->awaiting_response)
		exchange_end(c, 1);
	conn_close(c, "client_error");
	return;
upstream_broken:
	if (m->awaiting_response) {
		if (m->resp_bytes == 0) {
			answer_text(c, 502, "Bad Gateway", "modelux: provider connection failed\n");
			exchange_end(c, 1);
			m->upstream_dead = true;
			tls_write(m->cs, &m->cout);
		} else {
			exchange_end(c, 1);
		}
	}
	conn_close(c, "upstream_error");
}

void mitm_event(struct conn *c, struct conn_end *e, uint32_t events)
{
	struct mitm *m = M(c);

	switch (m->state) {
	case MITM_CLIENT_HS:
		client_handshake(c);
		if (c->dead || m->state == MITM_CLIENT_HS)
			return;
		if (m->state != MITM_HTTP)
			return;
		break;
	case MITM_UP_CONNECT:
		if (e != &c->up)
			return; /* client bytes wait in the socket until the provider is ready */
		if (conn_upstream_error(c)) {
			m->upstream_dead = true;
			m->state = MITM_HTTP;
			answer_text(c, 502, "Bad Gateway", "modelux: cannot connect to the provider\n");
			break;
		}
		if (!upstream_begin_tls(c)) {
			conn_close(c, "no_memory");
			return;
		}
		/* fall through */
	case MITM_UP_HS:
		upstream_handshake(c);
		if (m->state != MITM_HTTP)
			return;
		break;
	case MITM_HTTP:
		break;
	}
	drive_http(c);
}

void mitm_start(struct conn *c)
{
	struct agent *ag = c->w->ag;
	struct mitm *m;
	SSL_CTX *ctx;
	char err[256];

	m = calloc(1, sizeof(*m));
	if (!m) {
		conn_close(c, "no_memory");
		return;
	}
	c->mitm = m;
	ctx = certmint_get(ag->certmint, c->sni.server_name, err, sizeof(err));
	if (!ctx) {
		log_warn("flow id=%llu no certificate for %s: %s", (unsigned long long)c->id,
			 c->sni.server_name, err);
		conn_close(c, "mint_failed");
		return;
	}
	m->cs = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	if (!m->cs) {
		conn_close(c, "no_memory");
		return;
	}
	SSL_set_mode(m->cs, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				    SSL_MODE_RELEASE_BUFFERS);
	/* Many clients close without close_notify after their last response: that is an end,
	 * not an error (truncation is still caught by HTTP framing). */
	SSL_set_options(m->cs, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_set_fd(m->cs, c->cli.fd);
	SSL_set_accept_state(m->cs);
	m->state = MITM_CLIENT_HS;
	mitm_event(c, &c->cli, EPOLLIN);
}

void mitm_free(struct conn *c)
{
	struct mitm *m = M(c);

	if (!m)
		return;
	/* A provider connection that ended between exchanges ended well: tell OpenSSL, or it
	 * treats the session as broken and refuses to resume it next time. */
	if (m->us && m->state == MITM_HTTP && !m->awaiting_response && !m->upstream_dead)
		SSL_set_shutdown(m->us, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(m->cs);
	SSL_free(m->us);
	free(m->cin.p);
	free(m->cout.p);
	free(m->uin.p);
	free(m->uout.p);
	free(m);
	c->mitm = NULL;
}
