/* conn: one intercepted connection, from accept to close: recover the original destination and
 * attribution, peek the ClientHello, connect upstream, then splice bytes both ways untouched.
 * Owns both sockets, the pipes and the connection's arena. */
#ifndef MODELUX_CONN_H
#define MODELUX_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent.h"
#include "arena.h"
#include "sni.h"
#include "worker.h"

enum conn_state { CONN_PEEK = 1, CONN_CONNECTING, CONN_SPLICE };

struct mitm;

struct conn_end {
	struct ep_tag tag;
	struct conn *c;
	int fd;
};

/* One direction of the splice: <from> -> pipe -> <to>. */
struct splice_dir {
	int pipe[2];
	size_t in_pipe;
	bool eof;  /* <from> reached end of stream */
	bool shut; /* we have shut down the write side of <to> */
	uint64_t bytes;
};

struct conn {
	struct conn *prev, *next; /* in the worker's peeking or active list */
	bool in_peeking;
	bool dead;               /* closed; waiting in the worker's graveyard */
	struct conn *grave_next;
	struct worker *w;
	struct cfg_snap *snap;
	struct arena arena;
	struct conn_end cli, up;
	enum conn_state state;
	uint64_t id;
	int64_t start_ms, last_ms, peek_deadline_ms;
	int64_t start_unix_ms;
	struct sockaddr_storage orig, peer;
	socklen_t orig_len;
	struct mlx_flow_rec rec;
	bool have_rec;
	const char *exe, *user;
	uint8_t *peek;
	size_t peek_len; /* bytes seen by the last MSG_PEEK */
	struct sni_info sni;
	enum flow_kind kind;
	int provider; /* index into snap->cfg.providers, -1 when none */
	bool pinned;  /* provider flow spliced because its client refuses our certificate */
	struct splice_dir c2u, u2c;
	struct mitm *mitm; /* set when the flow is intercepted */
};

/* conn_accept - take ownership of accepted socket <fd> from listener family <lfamily>. */
void conn_accept(struct worker *w, int fd, int lfamily);

/* conn_event - epoll reported <events> on one end of a connection. */
void conn_event(struct conn_end *e, uint32_t events);

/* conn_peek_expired - no ClientHello before the deadline: decide on what we have. */
void conn_peek_expired(struct conn *c);

/* conn_connect_upstream - open the (marked, non-blocking) connection to the original
 * destination and watch it. 0, or -1 when the connect failed at once. */
int conn_connect_upstream(struct conn *c);

/* conn_upstream_error - after the upstream became writable: 0 if connected, else the errno. */
int conn_upstream_error(struct conn *c);

/* conn_touch - the connection is active: push its idle deadline back. */
void conn_touch(struct conn *c);

/* conn_close - log the flow, release everything. <end> says why ("eof", "reset", ...). */
void conn_close(struct conn *c, const char *end);

#endif
