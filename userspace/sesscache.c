/* sesscache: see sesscache.h. TLS 1.3 tickets arrive after the handshake, so sessions are
 * collected from OpenSSL's new-session callback rather than read once the handshake ends. */
#include "sesscache.h"

#include <string.h>

static int ctx_index = -1, ssl_index = -1;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void make_index(void)
{
	ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

void sesscache_init(struct sesscache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

/* OpenSSL calls this with a new session; returning 1 keeps the reference we were given. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct sesscache *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
	/* The name we connected for, recorded by sesscache_apply (a client SSL does not reliably
	 * report its own SNI here). */
	const char *name = SSL_get_ex_data(ssl, ssl_index);
	size_t i, victim = 0;

	if (!c || !name || strlen(name) >= sizeof(c->slot[0].name))
		return 0;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < SESSCACHE_SLOTS; i++) {
		if (strcmp(c->slot[i].name, name) == 0) {
			victim = i;
			break;
		}
		if (c->slot[i].stamp < c->slot[victim].stamp)
			victim = i;
	}
	SSL_SESSION_free(c->slot[victim].sess);
	strcpy(c->slot[victim].name, name);
	c->slot[victim].sess = sess;
	c->slot[victim].stamp = ++c->clock;
	pthread_mutex_unlock(&c->lock);
	return 1;
}

void sesscache_attach(struct sesscache *c, SSL_CTX *ctx)
{
	pthread_once(&index_once, make_index);
	SSL_CTX_set_ex_data(ctx, ctx_index, c);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

void sesscache_apply(struct sesscache *c, SSL *ssl, const char *name)
{
	size_t i;

	SSL_set_ex_data(ssl, ssl_index, (void *)name);
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < SESSCACHE_SLOTS; i++) {
		if (c->slot[i].sess && strcmp(c->slot[i].name, name) == 0) {
			/* A ticket is single-use in TLS 1.3 practice: the next one arrives by callback. */
			SSL_set_session(ssl, c->slot[i].sess);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void sesscache_free(struct sesscache *c)
{
	size_t i;

	for (i = 0; i < SESSCACHE_SLOTS; i++)
		SSL_SESSION_free(c->slot[i].sess);
	memset(c->slot, 0, sizeof(c->slot));
}
