/* worker: one data-path thread — its own epoll loop and SO_REUSEPORT listeners on 127.0.0.1 and
 * ::1 — owning every connection it accepted. Borrows the agent. */
#ifndef MODELUX_WORKER_H
#define MODELUX_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "attrib.h"

struct agent;
struct conn;
struct upool;

enum ep_type { EP_LISTEN = 1, EP_STOP, EP_CONN, EP_UPCONN };

/* First member of everything registered with a worker's epoll. */
struct ep_tag {
	enum ep_type type;
};

/* Work deferred to the end of the current epoll batch: one side of an intercepted exchange
 * tells the other there is something for it (bytes, room, an end) by scheduling it, rather than
 * calling into it, so no endpoint ever runs inside another's callbacks. */
struct sched_node {
	struct sched_node *next, *prev;
	bool queued;
	void (*run)(struct sched_node *n);
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
	struct sched_node *sched_head, *sched_tail;
	struct upool *pool;     /* pooled provider connections (interception) */
};

/* worker_schedule - run <n> once more before the worker sleeps again (no-op when queued). */
void worker_schedule(struct worker *w, struct sched_node *n);
/* worker_unschedule - forget <n> (its owner is being freed). */
void worker_unschedule(struct worker *w, struct sched_node *n);

/* worker_start - bind listeners on <port> and start the thread. 0 or -errno + <err>. */
int worker_start(struct worker *w, struct agent *ag, unsigned idx, uint16_t port, char *err,
		 size_t errlen);

/* worker_stop - ask the thread to close everything and exit, then join it. */
void worker_stop(struct worker *w);

void conn_list_push(struct conn_list *l, struct conn *c);
void conn_list_remove(struct conn_list *l, struct conn *c);

#endif
