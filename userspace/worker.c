/* worker: see worker.h. Listeners use SO_REUSEPORT so the kernel spreads new connections over
 * the workers with no shared accept lock. */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent.h"
#include "conn.h"
#include "log.h"
#include "upconn.h"

#define WORKER_TICK_MS 200
#define WORKER_BATCH 128

void conn_list_push(struct conn_list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

void conn_list_remove(struct conn_list *l, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (l->head == c)
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else if (l->tail == c)
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

void worker_schedule(struct worker *w, struct sched_node *n)
{
	if (n->queued)
		return;
	n->queued = true;
	n->next = NULL;
	n->prev = w->sched_tail;
	if (w->sched_tail)
		w->sched_tail->next = n;
	else
		w->sched_head = n;
	w->sched_tail = n;
}

void worker_unschedule(struct worker *w, struct sched_node *n)
{
	if (!n->queued)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		w->sched_head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		w->sched_tail = n->prev;
	n->next = n->prev = NULL;
	n->queued = false;
}

/* Run what the batch's events scheduled, and what those runs schedule in turn. */
static void run_scheduled(struct worker *w)
{
	struct sched_node *n;

	while ((n = w->sched_head)) {
		worker_unschedule(w, n);
		n->run(n);
	}
}

static int listen_on(int family, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, fd;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static void accept_all(struct worker *w, int lfd, int family)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int one = 1;

		/* The agent writes whole TLS records and HTTP messages: Nagle would only hold a
		 * response back behind the client's delayed ACK of the session tickets sent just
		 * before it (a 40 ms stall per new connection). Best effort. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conn_accept(w, fd, family);
	}
	if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
		log_warn("worker %u: accept: %s", w->idx, strerror(errno));
}

static void check_timeouts(struct worker *w)
{
	int64_t now = mono_ms();
	struct conn *c;

	while ((c = w->peeking.head) && c->peek_deadline_ms <= now)
		conn_peek_expired(c);
	/* Least recently active first: stop at the first one still within its idle time. */
	while ((c = w->active.head) && !c->dead &&
	       now - c->last_ms >= (int64_t)c->snap->cfg.idle_timeout_s * 1000) {
		atomic_fetch_add(&w->ag->stats.idle_timeouts, 1);
		conn_close(c, "idle_timeout");
	}
	if (w->pool)
		upool_tick(w->pool, now);
}

static void bury(struct worker *w)
{
	while (w->graveyard) {
		struct conn *c = w->graveyard;

		w->graveyard = c->grave_next;
		free(c);
	}
	if (w->pool)
		upool_bury(w->pool);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[WORKER_BATCH];
	int64_t next_tick = mono_ms() + WORKER_TICK_MS;
	bool stop = false;
	int n, i;

	while (!stop) {
		n = epoll_wait(w->epfd, ev, WORKER_BATCH, WORKER_TICK_MS);
		log_batch_begin();
		for (i = 0; i < n; i++) {
			struct ep_tag *t = ev[i].data.ptr;

			if (t->type == EP_LISTEN) {
				accept_all(w, w->lfd[0], AF_INET);
				if (w->lfd[1] >= 0)
					accept_all(w, w->lfd[1], AF_INET6);
			} else if (t->type == EP_STOP) {
				stop = true;
			} else if (t->type == EP_UPCONN) {
				upconn_event((struct upconn *)t, ev[i].events);
			} else {
				conn_event((struct conn_end *)t, ev[i].events);
			}
		}
		run_scheduled(w);
		if (mono_ms() >= next_tick) {
			check_timeouts(w);
			run_scheduled(w);
			next_tick = mono_ms() + WORKER_TICK_MS;
		}
		bury(w);
		log_batch_end();
	}
	while (w->peeking.head)
		conn_close(w->peeking.head, "shutdown");
	while (w->active.head)
		conn_close(w->active.head, "shutdown");
	run_scheduled(w);
	if (w->pool) {
		upool_free(w->pool);
		w->pool = NULL;
	}
	bury(w);
	return NULL;
}

int worker_start(struct worker *w, struct agent *ag, unsigned idx, uint16_t port, char *err,
		 size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int i, rc;

	memset(w, 0, sizeof(*w));
	w->ag = ag;
	w->idx = idx;
	w->lfd[0] = w->lfd[1] = w->stopfd = -1;
	w->listen_tag.type = EP_LISTEN;
	w->stop_tag.type = EP_STOP;
	attrib_init(&w->attrib);
	w->pool = upool_new(w);
	if (!w->pool) {
		snprintf(err, errlen, "worker %u: out of memory", idx);
		return -ENOMEM;
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->stopfd < 0) {
		snprintf(err, errlen, "worker %u: %s", idx, strerror(errno));
		return -errno;
	}
	w->lfd[0] = listen_on(AF_INET, port);
	if (w->lfd[0] < 0) {
		snprintf(err, errlen, "listen on 127.0.0.1:%u: %s", port, strerror(-w->lfd[0]));
		return w->lfd[0];
	}
	w->lfd[1] = listen_on(AF_INET6, port);
	if (w->lfd[1] < 0 && idx == 0)
		log_warn("listen on [::1]:%u: %s; IPv6 targets will not be served", port,
			 strerror(-w->lfd[1]));
	for (i = 0; i < 2; i++) {
		if (w->lfd[i] < 0)
			continue;
		ev.data.ptr = &w->listen_tag;
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd[i], &ev);
	}
	ev.data.ptr = &w->stop_tag;
	epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stopfd, &ev);
	rc = pthread_create(&w->thread, NULL, worker_main, w);
	if (rc) {
		snprintf(err, errlen, "worker %u: pthread_create: %s", idx, strerror(rc));
		return -rc;
	}
	return 0;
}

void worker_stop(struct worker *w)
{
	uint64_t one = 1;
	int i;

	if (write(w->stopfd, &one, sizeof(one)) == sizeof(one))
		pthread_join(w->thread, NULL);
	for (i = 0; i < 2; i++)
		if (w->lfd[i] >= 0)
			close(w->lfd[i]);
	close(w->stopfd);
	close(w->epfd);
}
