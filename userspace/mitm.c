/* mitm: see mitm.h. This file owns the client-side TLS and the connection's lifecycle; the HTTP
 * work is in front_h1.c / front_h2.c, the provider side in upconn.c and its drivers. */
#include "mitm.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "certmint.h"
#include "conn.h"
#include "exch.h"
#include "front.h"
#include "log.h"
#include "ossl_err.h"

static struct mitm *M(struct conn *c)
{
	return c->mitm;
}

void front_link(struct mitm *m, struct exch *ex)
{
	ex->fnext = NULL;
	ex->fprev = m->xt;
	if (m->xt)
		m->xt->fnext = ex;
	else
		m->xh = ex;
	m->xt = ex;
}

void front_unlink(struct mitm *m, struct exch *ex)
{
	if (ex->fprev)
		ex->fprev->fnext = ex->fnext;
	else
		m->xh = ex->fnext;
	if (ex->fnext)
		ex->fnext->fprev = ex->fprev;
	else
		m->xt = ex->fprev;
	ex->fnext = ex->fprev = NULL;
}

/* ---- handshake ---------------------------------------------------------------------------- */

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

/* Returns true once the handshake is done. */
static bool client_handshake(struct conn *c)
{
	struct mitm *m = M(c);
	struct agent *ag = c->w->ag;
	int r = SSL_do_handshake(m->cs), e;
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	char buf[256];

	if (r == 1) {
		SSL_get0_alpn_selected(m->cs, &alpn, &alen);
		snprintf(m->alpn, sizeof(m->alpn), "%.*s", (int)alen,
			 alpn ? (const char *)alpn : "");
		if (!m->alpn[0])
			snprintf(m->alpn, sizeof(m->alpn), "http/1.1");
		m->h2 = strcmp(m->alpn, "h2") == 0;
		m->state = MITM_HTTP;
		atomic_fetch_add(&ag->stats.intercepted, 1);
		if (m->h2 && !front_h2_start(c))
			return false;
		return true;
	}
	e = SSL_get_error(m->cs, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return false;
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
		return false;
	}
	log_info("flow id=%llu client TLS handshake failed: %s", (unsigned long long)c->id,
		 ossl_err_text(buf, sizeof(buf), "connection closed"));
	conn_close(c, "client_tls_error");
	return false;
}

/* ---- drive -------------------------------------------------------------------------------- */

static void drive(struct conn *c)
{
	struct mitm *m = M(c);

	if (m->state == MITM_CLIENT_HS && !client_handshake(c))
		return;
	if (m->h2)
		front_h2_drive(c);
	else
		front_h1_drive(c);
}

static void run_scheduled(struct sched_node *n)
{
	struct mitm *m = (struct mitm *)((char *)n - offsetof(struct mitm, sched));
	struct conn *c = m->c;

	if (c->dead || c->mitm != m)
		return;
	conn_touch(c);
	drive(c);
}

void mitm_kick(struct conn *c)
{
	struct mitm *m = M(c);

	if (m && !c->dead && m->state == MITM_HTTP)
		worker_schedule(c->w, &m->sched);
}

void mitm_credit(struct conn *c, int32_t sid, size_t n)
{
	struct mitm *m = M(c);

	if (!m || c->dead)
		return;
	if (m->h2)
		front_h2_credit(c, sid, n);
	mitm_kick(c);
}

void mitm_event(struct conn *c, struct conn_end *e, uint32_t events)
{
	if (e != &c->cli)
		return;
	c->mitm->readable = true;
	drive(c);
}

void mitm_start(struct conn *c)
{
	struct agent *ag = c->w->ag;
	struct mitm *m;
	char err[256];

	m = calloc(1, sizeof(*m));
	if (!m) {
		conn_close(c, "no_memory");
		return;
	}
	m->c = c;
	m->sched.run = run_scheduled;
	c->mitm = m;
	m->cs = certmint_ssl(ag->certmint, c->sni.server_name, err, sizeof(err));
	if (!m->cs) {
		log_warn("flow id=%llu no certificate for %s: %s", (unsigned long long)c->id,
			 c->sni.server_name, err);
		conn_close(c, "mint_failed");
		return;
	}
	tls_tune(m->cs);
	m->readable = true;
	SSL_set_fd(m->cs, c->cli.fd);
	SSL_set_accept_state(m->cs);
	m->state = MITM_CLIENT_HS;
	drive(c);
}

void mitm_free(struct conn *c)
{
	struct mitm *m = M(c);

	if (!m)
		return;
	while (m->xh) {
		struct exch *ex = m->xh;

		front_unlink(m, ex);
		/* A client may close as soon as it has every byte of a response it knows the
		 * length of, before our end-of-stream reaches it; closing is how a tunnel ends. */
		exch_front_detach(ex, ex->tunnel_open ? !ex->aborted
						      : ex->resp_end && ex->resp_head_sent &&
								ex->resp_q.len == 0 && !ex->aborted);
	}
	worker_unschedule(c->w, &m->sched);
	front_h2_free(m);
	SSL_free(m->cs);
	mbuf_free(&m->cin);
	mbuf_free(&m->cout);
	free(m);
	c->mitm = NULL;
}
