/* front: the client-side protocol state of an intercepted connection, shared by mitm.c (TLS,
 * lifecycle) and the two protocol drivers front_h1.c and front_h2.c. Internal to those files. */
#ifndef MODELUX_FRONT_H
#define MODELUX_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "h1.h"
#include "tlsio.h"
#include "worker.h"

struct conn;
struct exch;
struct h2conn;

enum mitm_state {
	MITM_CLIENT_HS = 1, /* our server handshake with the client */
	MITM_HTTP,          /* serving requests */
};

struct mitm {
	struct sched_node sched;
	struct conn *c;
	SSL *cs;
	enum mitm_state state;
	bool h2;
	char alpn[16];
	struct mbuf cin, cout;
	bool client_eof;
	bool readable; /* no EAGAIN since the last epoll event */
	bool closing; /* close once cout is flushed */
	uint64_t seq;
	struct exch *xh, *xt; /* exchanges of this connection, oldest first */
	/* HTTP/1.1: one exchange at a time; a pipelined request waits in cin */
	struct h1_body reqb;
	bool req_in_body;
	bool continue_due;    /* send "100 Continue" once the request is on its way */
	bool resp_chunked;    /* the current response is re-chunked toward the client */
	bool resp_until_close;
	bool resp_no_body;
	bool keep_alive;      /* the current request allows another one after it */
	bool client_http11;   /* else HTTP/1.0: no chunked coding toward it */
	/* HTTP/2 */
	struct h2conn *h2c;
};

void front_link(struct mitm *m, struct exch *ex);
void front_unlink(struct mitm *m, struct exch *ex);

/* Drivers: move what can move; false when the connection was closed. */
bool front_h1_drive(struct conn *c);
bool front_h2_start(struct conn *c);
bool front_h2_drive(struct conn *c);
void front_h2_credit(struct conn *c, int32_t sid, size_t n);
void front_h2_free(struct mitm *m);

#endif
