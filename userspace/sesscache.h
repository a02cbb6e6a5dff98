/* sesscache: TLS sessions the providers gave us, one per provider name, so the agent's next
 * connection to that provider resumes instead of doing a full handshake. Thread-safe; owns a
 * reference to each stored SSL_SESSION. */
#ifndef MODELUX_SESSCACHE_H
#define MODELUX_SESSCACHE_H

#include <openssl/ssl.h>
#include <pthread.h>

#define SESSCACHE_SLOTS 64

struct sesscache {
	pthread_mutex_t lock;
	struct {
		char name[256];
		SSL_SESSION *sess;
		unsigned long stamp; /* for least-recently-stored replacement */
	} slot[SESSCACHE_SLOTS];
	unsigned long clock;
};

void sesscache_init(struct sesscache *c);

/* sesscache_attach - make <ctx> (a client context) hand its new sessions to <c>. */
void sesscache_attach(struct sesscache *c, SSL_CTX *ctx);

/* sesscache_apply - offer the stored session for <name>, if any, on client SSL <ssl>, and
 * file the sessions <ssl> receives under <name> (which must outlive <ssl>). */
void sesscache_apply(struct sesscache *c, SSL *ssl, const char *name);

void sesscache_free(struct sesscache *c);

#endif
