/* worker: one data-path thread — its own epoll loop and SO_REUSEPORT listeners on 127.0.0.1 and
 * ::1 — owning every connection it accepted. Borrows the agent. */
#ifndef MODELUX_WORKER_H
#define MODELUX_WORKER_H

#include <pthread.h>
#include <stdint.h>

#include "attrib.h"

struct agent;
struct conn;

enum ep_type { EP_LISTEN = 1, EP_STOP, EP_CONN };

/* First member of everything registered with a worker's epoll. */
struct ep_tag {
	enum ep_type type;
};

struct conn_list {
	struct conn *head, *tail;
};

struct worker {
	struct agent *ag;
	unsigned idx;
	pthread_t thread;
	int epfd;
	int lfd[2]; /* 127.0.0.1, ::1 (-1 when IPv6 is unavailable) */
	int stopfd;
	struct ep_tag listen_tag, stop_tag;
	struct attrib_cache attrib;
	struct conn_list peeking; /* waiting for a ClientHello; ordered by deadline */
	struct conn_list active;  /* everything else; least recently active first */
	unsigned nconns;
	struct conn *graveyard; /* closed during the current epoll batch */
};

/* worker_start - bind listeners on <port> and start the thread. 0 or -errno + <err>. */
int worker_start(struct worker *w, struct agent *ag, unsigned idx, uint16_t port, char *err,
		 size_t errlen);

/* worker_stop - ask the thread to close everything and exit, then join it. */
void worker_stop(struct worker *w);

void conn_list_push(struct conn_list *l, struct conn *c);
void conn_list_remove(struct conn_list *l, struct conn *c);

#endif
