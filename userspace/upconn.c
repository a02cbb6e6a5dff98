/* upconn: see upconn.h. Connection lifecycle (connect, verified TLS handshake, close) and the
 * pool that hands exchanges to connections; the HTTP work is in up_h1.c and up_h2.c. */
#include "upconn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "agent.h"
#include "conn.h"
#include "exch.h"
#include "h2conn.h"
#include "log.h"
#include "ossl_err.h"

/* Idle provider connections close after this long (providers drop theirs after a minute or
 * more; closing first avoids sending a request into a connection being closed). */
#define UPOOL_IDLE_MS 30000

struct upool {
	struct worker *w;
	struct upkey *keys;
	struct upconn *graveyard;
};

static uint64_t next_upconn_id;

struct upool *upool_new(struct worker *w)
{
	struct upool *p = calloc(1, sizeof(*p));

	if (p)
		p->w = w;
	return p;
}

/* ---- exchange lists ------------------------------------------------------------------------- */

static void xlist_push(struct exch **h, struct exch **t, struct exch *ex)
{
	ex->unext = NULL;
	ex->uprev = *t;
	if (*t)
		(*t)->unext = ex;
	else
		*h = ex;
	*t = ex;
}

static void xlist_remove(struct exch **h, struct exch **t, struct exch *ex)
{
	if (ex->uprev)
		ex->uprev->unext = ex->unext;
	else
		*h = ex->unext;
	if (ex->unext)
		ex->unext->uprev = ex->uprev;
	else
		*t = ex->uprev;
	ex->unext = ex->uprev = NULL;
}

/* ---- connections ---------------------------------------------------------------------------- */

bool upconn_can_take(const struct upconn *u)
{
	if (u->state != UPC_READY || u->goaway || u->eof)
		return false;
	return u->h2 ? u->nex < u->max_streams : u->nex == 0;
}

void upconn_kick(struct upconn *u)
{
	if (u->state != UPC_DEAD)
		worker_schedule(u->w, &u->sched);
}

void upconn_attach(struct upconn *u, struct exch *ex)
{
	xlist_push(&u->xh, &u->xt, ex);
	u->nex++;
	ex->up = u;
	ex->usid = 0;
	snprintf(ex->up_proto, sizeof(ex->up_proto), "%s", u->h2 ? "h2" : "http/1.1");
	ex->up_reused = u->served > 0;
	if (ex->up_reused)
		atomic_fetch_add(&u->w->ag->stats.upstream_reused, 1);
	u->served++;
	upconn_kick(u);
}

void upconn_detach(struct upconn *u, struct exch *ex)
{
	xlist_remove(&u->xh, &u->xt, ex);
	u->nex--;
	exch_up_detach(ex);
	if (u->state == UPC_READY && upconn_can_take(u))
		upool_conn_free_slot(u);
}

static void upconn_detach_quiet(struct upconn *u, struct exch *ex)
{
	xlist_remove(&u->xh, &u->xt, ex);
	u->nex--;
	ex->up = NULL;
}

void upconn_retry(struct upconn *u, struct exch *ex)
{
	if (ex->up == u)
		upconn_detach_quiet(u, ex);
	ex->retried = true;
	ex->req_head_sent = ex->req_all_sent = false;
	ex->usid = 0;
	upool_submit(u->w->pool, ex);
}

void upconn_credit(struct upconn *u, int32_t sid, size_t n)
{
	if (u->state != UPC_READY)
		return;
	if (u->h2 && sid > 0)
		h2conn_window_consumed(u->h2c, sid, n);
	upconn_kick(u);
}

void upconn_cancel(struct upconn *u, struct exch *ex)
{
	if (!u->h2) {
		/* Mid-exchange an HTTP/1.1 connection cannot be reused. */
		upconn_detach_quiet(u, ex);
		upconn_close(u, "cancelled", NULL);
		return;
	}
	up_h2_cancel(u, ex);
	upconn_detach_quiet(u, ex);
	if (u->state == UPC_READY && upconn_can_take(u))
		upool_conn_free_slot(u);
}

static void key_unlink(struct upconn *u)
{
	struct upkey *k = u->key;

	if (u->prev)
		u->prev->next = u->next;
	else if (k->conns == u)
		k->conns = u->next;
	if (u->next)
		u->next->prev = u->prev;
	u->next = u->prev = NULL;
	k->nconns--;
}

/* A request that never left (nothing of it was taken and no response began) on a connection
 * that had served before may have met the provider closing it: send it again elsewhere, once. */
static bool retryable(const struct upconn *u, const struct exch *ex, bool was_ready)
{
	return !ex->retried && ex->front && ex->req_taken == 0 && !ex->resp_has_head &&
	       u->served > 1 && was_ready;
}

void upconn_close(struct upconn *u, const char *why, const char *client_text)
{
	struct upool *p = u->w->pool;
	struct upkey *k = u->key;
	bool was_ready = u->state == UPC_READY;
	bool clean = was_ready && u->nex == 0;
	const char *text = client_text ? client_text : "modelux: the provider connection failed\n";

	if (u->state == UPC_DEAD)
		return;
	/* Out of the pool first, so that a retried exchange cannot land here again. */
	u->state = UPC_DEAD;
	key_unlink(u);
	if (u->counted_connecting) {
		u->counted_connecting = false;
		k->nconnecting--;
	}
	worker_unschedule(u->w, &u->sched);
	while (u->xh) {
		struct exch *ex = u->xh;

		upconn_detach_quiet(u, ex);
		if (retryable(u, ex, was_ready)) {
			upconn_retry(u, ex);
			continue;
		}
		exch_fail(ex, why, text);
		exch_up_detach(ex);
	}
	if (u->ssl && clean) {
		/* Ended between exchanges: say so (or note that the provider did), which also
		 * keeps the session resumable: OpenSSL drops sessions of connections that did not
		 * end cleanly. */
		if (u->eof)
			SSL_set_shutdown(u->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		else
			SSL_shutdown(u->ssl);
	}
	up_h2_free(u);
	log_debug("upconn id=%llu sni=%s closed: %s (served %u)", (unsigned long long)u->id, k->sni,
		  why, u->served);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	u->grave_next = p->graveyard;
	p->graveyard = u;
}

static void fail_waiting(struct upkey *k, bool all, const char *why, const char *text)
{
	while (k->wait_head) {
		struct exch *ex = k->wait_head;

		xlist_remove(&k->wait_head, &k->wait_tail, ex);
		k->nwaiting--;
		ex->waiting = NULL;
		exch_fail(ex, why, text);
		exch_up_detach(ex);
		if (!all)
			break;
	}
}

void upool_conn_failed(struct upconn *u, const char *why, const char *client_text)
{
	struct upkey *k = u->key;

	upconn_close(u, why, client_text);
	/* Nobody else is on the way: the waiting exchanges would wait for nothing. */
	fail_waiting(k, k->nconnecting == 0, why, client_text);
}

static struct upconn *upconn_new(struct upool *p, struct upkey *k);

static void key_dispatch(struct upool *p, struct upkey *k)
{
	for (struct upconn *u = k->conns; u && k->wait_head; u = u->next) {
		while (k->wait_head && upconn_can_take(u)) {
			struct exch *ex = k->wait_head;

			xlist_remove(&k->wait_head, &k->wait_tail, ex);
			k->nwaiting--;
			ex->waiting = NULL;
			upconn_attach(u, ex);
		}
	}
	/* Offering h2, one connection is likely to serve every waiting exchange: open one and
	 * learn the provider's choice before opening more. HTTP/1.1 needs one per exchange. */
	if (k->wait_head &&
	    k->nconnecting < ((k->offer_h2 && (!k->proto_known || k->h2_seen)) ? 1 : k->nwaiting))
		upconn_new(p, k);
}

void upool_conn_ready(struct upconn *u)
{
	if (u->counted_connecting) {
		u->counted_connecting = false;
		u->key->nconnecting--;
	}
	u->key->h2_seen = u->h2;
	u->key->proto_known = true;
	u->idle_since_ms = mono_ms();
	key_dispatch(u->w->pool, u->key);
}

void upool_conn_free_slot(struct upconn *u)
{
	struct upkey *k = u->key;

	if (k->wait_head) {
		key_dispatch(u->w->pool, k);
		return;
	}
	if (u->nex == 0) {
		unsigned idle = 0;

		u->idle_since_ms = mono_ms();
		for (struct upconn *o = k->conns; o; o = o->next)
			idle += o->state == UPC_READY && o->nex == 0;
		/* Not an HTTP/2 connection: this may run inside its own callbacks. */
		if (idle > UPOOL_MAX_IDLE && !u->h2)
			upconn_close(u, "pool_full", NULL);
	}
}

/* An idle HTTP/1.1 connection with bytes or an end pending is not safe to send on. */
static bool h1_idle_alive(struct upconn *u)
{
	char b;
	ssize_t n = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static struct upkey *key_find(struct upool *p, const char *sni, const struct sockaddr_storage *a,
			      socklen_t alen, bool offer_h2)
{
	struct upkey *k;

	for (k = p->keys; k; k = k->next)
		if (k->addr_len == alen && memcmp(&k->addr, a, alen) == 0 &&
		    k->offer_h2 == offer_h2 && strcmp(k->sni, sni) == 0)
			return k;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	snprintf(k->sni, sizeof(k->sni), "%s", sni);
	memcpy(&k->addr, a, alen);
	k->addr_len = alen;
	k->offer_h2 = offer_h2;
	k->next = p->keys;
	p->keys = k;
	return k;
}

void upool_submit(struct upool *p, struct exch *ex)
{
	struct conn *c = ex->front;
	/* A WebSocket upgrade needs HTTP/1.1 to the provider too (RFC 8441 over h2 is rarely
	 * offered), on a connection that is its own from then on. */
	struct upkey *k = key_find(p, c->sni.server_name, &c->orig, c->orig_len,
				   c->snap->cfg.upstream_h2 && !ex->tunnel);
	struct upconn *u, *next;

	if (!k) {
		exch_fail(ex, "no_memory", "modelux: out of memory\n");
		return;
	}
	for (u = k->conns; u; u = next) {
		next = u->next;
		if (!upconn_can_take(u))
			continue;
		if (!u->h2 && !h1_idle_alive(u)) {
			upconn_close(u, "stale", NULL);
			continue;
		}
		upconn_attach(u, ex);
		return;
	}
	ex->waiting = k;
	xlist_push(&k->wait_head, &k->wait_tail, ex);
	k->nwaiting++;
	k->mark = c->snap->cfg.mark;
	key_dispatch(p, k);
}

void upool_unwait(struct exch *ex)
{
	struct upkey *k = ex->waiting;

	xlist_remove(&k->wait_head, &k->wait_tail, ex);
	k->nwaiting--;
	ex->waiting = NULL;
}

/* ---- connect and handshake -------------------------------------------------------------- */

static void run_scheduled(struct sched_node *n)
{
	struct upconn *u = (struct upconn *)((char *)n - offsetof(struct upconn, sched));

	if (u->state == UPC_READY)
		u->h2 ? up_h2_drive(u) : up_h1_drive(u);
}

static struct upconn *upconn_new(struct upool *p, struct upkey *k)
{
	struct upconn *u = calloc(1, sizeof(*u));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};

	if (!u)
		return NULL;
	u->tag.type = EP_UPCONN;
	u->sched.run = run_scheduled;
	u->w = p->w;
	u->key = k;
	u->id = __atomic_add_fetch(&next_upconn_id, 1, __ATOMIC_RELAXED);
	u->state = UPC_CONNECTING;
	u->counted_connecting = true;
	k->nconnecting++;
	u->next = k->conns;
	if (k->conns)
		k->conns->prev = u;
	k->conns = u;
	k->nconns++;
	u->fd = socket(k->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* The mark is what keeps our own connect() out of the redirect. */
	if (u->fd < 0 || setsockopt(u->fd, SOL_SOCKET, SO_MARK, &k->mark, sizeof(k->mark)) < 0 ||
	    /* whole records and frames are written: no Nagle delay behind the provider's ACKs */
	    setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int)) < 0 ||
	    (connect(u->fd, (struct sockaddr *)&k->addr, k->addr_len) < 0 &&
	     errno != EINPROGRESS)) {
		atomic_fetch_add(&p->w->ag->stats.upstream_fail, 1);
		log_info("upconn sni=%s connect failed: %s", k->sni, strerror(errno));
		upool_conn_failed(u, "connect_failed", "modelux: cannot connect to the provider\n");
		return NULL;
	}
	ev.data.ptr = &u->tag;
	epoll_ctl(p->w->epfd, EPOLL_CTL_ADD, u->fd, &ev);
	return u;
}

static bool begin_tls(struct upconn *u)
{
	static const unsigned char alpn_both[] = "\x02h2\x08http/1.1";
	struct agent *ag = u->w->ag;

	u->ssl = SSL_new(ag->upstream_ctx);
	if (!u->ssl)
		return false;
	tls_tune(u->ssl);
	SSL_set_fd(u->ssl, u->fd);
	SSL_set_connect_state(u->ssl);
	SSL_set_tlsext_host_name(u->ssl, u->key->sni);
	/* Verify the provider's name, not just its chain. */
	if (!SSL_set1_host(u->ssl, u->key->sni))
		return false;
	if (u->key->offer_h2)
		SSL_set_alpn_protos(u->ssl, alpn_both, sizeof(alpn_both) - 1);
	else
		SSL_set_alpn_protos(u->ssl, alpn_both + 3, sizeof(alpn_both) - 4);
	sesscache_apply(&ag->sessions, u->ssl, u->key->sni);
	u->state = UPC_HANDSHAKE;
	return true;
}

static void handshake(struct upconn *u)
{
	struct agent *ag = u->w->ag;
	int r = SSL_do_handshake(u->ssl), e;
	const unsigned char *alpn = NULL;
	unsigned alen = 0;
	char buf[256], text[512];
	long vr;

	if (r == 1) {
		if (SSL_session_reused(u->ssl))
			atomic_fetch_add(&ag->stats.upstream_resumed, 1);
		SSL_get0_alpn_selected(u->ssl, &alpn, &alen);
		u->h2 = alen == 2 && memcmp(alpn, "h2", 2) == 0;
		atomic_fetch_add(&ag->stats.upstream_conns, 1);
		if (u->h2)
			atomic_fetch_add(&ag->stats.upstream_conns_h2, 1);
		u->state = UPC_READY;
		u->max_streams = u->h2 ? UPOOL_H2_STREAMS : 1;
		if (u->h2 && !up_h2_start(u)) {
			upool_conn_failed(u, "no_memory", "modelux: out of memory\n");
			return;
		}
		upool_conn_ready(u);
		upconn_kick(u);
		return;
	}
	e = SSL_get_error(u->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	vr = SSL_get_verify_result(u->ssl);
	if (vr != X509_V_OK) {
		atomic_fetch_add(&ag->stats.upstream_verify_fail, 1);
		snprintf(text, sizeof(text),
			 "modelux: refused to connect to %s: the provider's certificate failed "
			 "verification (%s)\n",
			 u->key->sni, X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else {
		snprintf(text, sizeof(text), "modelux: TLS handshake with %s failed (%s)\n",
			 u->key->sni, ossl_err_text(buf, sizeof(buf), "connection closed"));
	}
	log_warn("upconn id=%llu %.*s", (unsigned long long)u->id, (int)strcspn(text, "\n"), text);
	upool_conn_failed(u, "upstream_tls", text);
}

void upconn_event(struct upconn *u, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	u->readable = true;
	switch (u->state) {
	case UPC_CONNECTING:
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			atomic_fetch_add(&u->w->ag->stats.upstream_fail, 1);
			log_info("upconn id=%llu sni=%s connect failed: %s",
				 (unsigned long long)u->id, u->key->sni, strerror(err));
			upool_conn_failed(u, "connect_failed",
					  "modelux: cannot connect to the provider\n");
			return;
		}
		if (!begin_tls(u)) {
			upool_conn_failed(u, "no_memory", "modelux: out of memory\n");
			return;
		}
		/* fall through */
	case UPC_HANDSHAKE:
		handshake(u);
		return;
	case UPC_READY:
		u->h2 ? up_h2_drive(u) : up_h1_drive(u);
		return;
	case UPC_DEAD:
		return;
	}
}

void upool_tick(struct upool *p, int64_t now_ms)
{
	for (struct upkey *k = p->keys; k; k = k->next) {
		struct upconn *u, *next;

		for (u = k->conns; u; u = next) {
			next = u->next;
			if (u->state == UPC_READY && u->nex == 0 &&
			    now_ms - u->idle_since_ms >= UPOOL_IDLE_MS)
				upconn_close(u, "idle", NULL);
		}
	}
}

void upool_bury(struct upool *p)
{
	while (p->graveyard) {
		struct upconn *u = p->graveyard;

		p->graveyard = u->grave_next;
		SSL_free(u->ssl);
		mbuf_free(&u->in);
		mbuf_free(&u->out);
		free(u);
	}
}

void upool_free(struct upool *p)
{
	while (p->keys) {
		struct upkey *k = p->keys;

		while (k->conns)
			upconn_close(k->conns, "shutdown", "modelux: the agent is stopping\n");
		fail_waiting(k, true, "shutdown", "modelux: the agent is stopping\n");
		p->keys = k->next;
		free(k);
	}
	upool_bury(p);
	free(p);
}
