/* upconn: pooled TLS connections from the agent to providers, shared by every intercepted client
 * connection of a worker. A pool key is (provider name as SNI, destination address); each key
 * holds its connections and the exchanges waiting for one. A connection speaks HTTP/2 when the
 * provider offers it (multiplexed up to its stream limit) or HTTP/1.1 (one exchange at a time,
 * kept alive and reused). Connections are verified (chain and name), resume TLS sessions, and
 * close after sitting idle. Owns the connections, their sockets and SSL objects; borrows the
 * exchanges it carries (see exch.h). Only the worker's thread touches a pool. */
#ifndef MODELUX_UPCONN_H
#define MODELUX_UPCONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "h1.h"
#include "tlsio.h"
#include "worker.h"

struct exch;
struct h2conn;

/* Idle HTTP/1.1 connections kept per key; beyond, a finished connection is closed. */
#define UPOOL_MAX_IDLE 256
/* Streams per HTTP/2 connection (the provider's own limit may be lower). */
#define UPOOL_H2_STREAMS 100

enum upc_state {
	UPC_CONNECTING = 1, /* TCP */
	UPC_HANDSHAKE,      /* TLS */
	UPC_READY,
	UPC_DEAD,
};

struct upkey {
	struct upkey *next;
	char sni[256];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	uint32_t mark;  /* SO_MARK of new connections (from the configuration) */
	bool offer_h2;  /* ALPN h2 offered to the provider (configuration: upstream_h2) */
	struct upconn *conns;
	struct exch *wait_head, *wait_tail;
	unsigned nwaiting, nconnecting, nconns;
	bool proto_known; /* a handshake completed: h2_seen says what the provider chose */
	bool h2_seen;     /* the last handshake chose h2: one connection will serve many */
};

struct upconn {
	struct ep_tag tag; /* first: the worker's epoll dispatches on it */
	struct sched_node sched;
	struct worker *w;
	struct upkey *key;
	struct upconn *next, *prev, *grave_next;
	uint64_t id;
	int fd;
	SSL *ssl;
	enum upc_state state;
	bool h2;
	struct h2conn *h2c;
	struct mbuf in, out;
	bool eof;
	bool readable; /* no EAGAIN since the last epoll event */
	bool goaway;  /* no new exchange: the provider said GOAWAY, or we are closing */
	bool counted_connecting;
	struct exch *xh, *xt; /* exchanges carried, oldest first */
	unsigned nex, max_streams, served;
	int64_t idle_since_ms;
	/* HTTP/1.1 response reading */
	struct h1_body respb;
	bool resp_in_body;
	bool req_chunked;
	bool reusable; /* the current response allows another exchange */
	bool shut_sent; /* a tunnel's client side ended: our close_notify went to the provider */
};

struct upool;

struct upool *upool_new(struct worker *w);
/* upool_free - close every connection (their exchanges fail) and free the pool. */
void upool_free(struct upool *p);

/* upool_submit - find <ex> a provider connection for its client's SNI and destination: an idle
 * or not-full one, or a new one (then <ex> waits). Failures come back through exch_fail. */
void upool_submit(struct upool *p, struct exch *ex);

/* upool_unwait - take <ex> out of its wait queue (its client went away). */
void upool_unwait(struct exch *ex);

/* upool_tick - close connections idle for too long. */
void upool_tick(struct upool *p, int64_t now_ms);

/* upool_bury - free connections closed during the current batch. */
void upool_bury(struct upool *p);

/* upconn_event - epoll reported <events> on <u>'s socket. */
void upconn_event(struct upconn *u, uint32_t events);

/* upconn_kick - run <u> at the end of the batch (new bytes, room, an end for it). */
void upconn_kick(struct upconn *u);

/* upconn_credit - the client side took <n> response bytes of stream <sid> (HTTP/2 credit). */
void upconn_credit(struct upconn *u, int32_t sid, size_t n);

/* upconn_cancel - the client side gave up <ex> before its end: stop it (HTTP/2: reset the stream;
 * HTTP/1.1: the connection cannot be reused and closes) and detach it without calling back. */
void upconn_cancel(struct upconn *u, struct exch *ex);

/* Internal to the pool (upconn.c, up_h1.c, up_h2.c). */
void upconn_attach(struct upconn *u, struct exch *ex);
void upconn_detach(struct upconn *u, struct exch *ex); /* and exch_up_detach */
/* upconn_retry - send <ex>, of which the provider took nothing, again through the pool (once:
 * it is marked retried). */
void upconn_retry(struct upconn *u, struct exch *ex);
void upconn_close(struct upconn *u, const char *why, const char *client_text);
void upool_conn_ready(struct upconn *u);
void upool_conn_free_slot(struct upconn *u); /* can take another exchange now */
void upool_conn_failed(struct upconn *u, const char *why, const char *client_text);
bool upconn_can_take(const struct upconn *u);
/* Protocol drivers: move what can move; return false when <u> was closed. */
bool up_h1_drive(struct upconn *u);
bool up_h2_drive(struct upconn *u);
bool up_h2_start(struct upconn *u);
void up_h2_cancel(struct upconn *u, struct exch *ex);
void up_h2_free(struct upconn *u);

#endif
