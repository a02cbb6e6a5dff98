/* conn: see conn.h. Every socket is non-blocking and registered edge-triggered once; each event
 * on either end runs the state machine until it would block. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "flowlog.h"
#include "log.h"
#include "mitm.h"

#define CONN_ARENA_CAP (8 * 1024)
#define PIPE_CAP (64 * 1024) /* the default pipe size: one page per slot, 16 slots */

const char *const flow_kind_names[FLOW_KIND_MAX] = {
	[FLOW_PROVIDER] = "provider", [FLOW_OTHER_SNI] = "other_sni", [FLOW_NO_SNI] = "no_sni",
	[FLOW_NOT_TLS] = "not_tls",   [FLOW_MALFORMED] = "malformed",
};

static void ep_add(struct conn *c, struct conn_end *e, uint32_t events)
{
	struct epoll_event ev = { .events = events | EPOLLET, .data.ptr = e };

	epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, e->fd, &ev);
}

/* Make the peer see a reset rather than a clean end, when we end a flow on an error. */
static void set_reset_on_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void conn_touch(struct conn *c)
{
	c->last_ms = mono_ms();
	if (!c->in_peeking) {
		conn_list_remove(&c->w->active, c);
		conn_list_push(&c->w->active, c);
	}
}

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void ss_to_mapped(const struct sockaddr_storage *ss, uint8_t out[16])
{
	if (ss->ss_family == AF_INET)
		addr_to_mapped(AF_INET, (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr,
			       out);
	else
		addr_to_mapped(AF_INET6,
			       (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr, out);
}

/* The destination the client asked for: SO_ORIGINAL_DST (answered by our getsockopt hook) and
 * the flows map record (attribution). Either one is enough for the destination. */
static bool recover_destination(struct conn *c, int fd, int lfamily)
{
	struct agent *ag = c->w->ag;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	struct mlx_flow_key key = { .netns_cookie = ag->netns_cookie };
	bool via_sockopt;

	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return false;
	len = sizeof(c->peer);
	if (getpeername(fd, (struct sockaddr *)&c->peer, &len) < 0)
		return false;
	ss_to_mapped(&c->peer, key.src);
	ss_to_mapped(&local, key.dst);
	key.sport = ss_port(&c->peer);
	key.dport = ss_port(&local);
	memset(&c->orig, 0, sizeof(c->orig));
	c->orig_len = lfamily == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	via_sockopt = getsockopt(fd, lfamily == AF_INET ? SOL_IP : SOL_IPV6, MLX_SO_ORIGINAL_DST,
				 &c->orig, &c->orig_len) == 0 &&
		      c->orig.ss_family == lfamily;
	/* After getsockopt: taking the record deletes it from the map the hook answers from. */
	c->have_rec = mlx_bpf_flow_take(&ag->bpf, &key, &c->rec) == 0;
	if (via_sockopt) {
		atomic_fetch_add(&ag->stats.origdst_sockopt, 1);
	} else if (c->have_rec) {
		/* The agent runs outside the scope cgroup: the getsockopt hook did not see us. */
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		memset(&c->orig, 0, sizeof(c->orig));
		if (memcmp(c->rec.orig_dst, mapped, 12) == 0) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&c->orig;

			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, c->rec.orig_dst + 12, 4);
			sin->sin_port = htons(c->rec.orig_port);
			c->orig_len = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->orig;

			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, c->rec.orig_dst, 16);
			sin6->sin6_port = htons(c->rec.orig_port);
			c->orig_len = sizeof(*sin6);
		}
		atomic_fetch_add(&ag->stats.origdst_map, 1);
	} else {
		return false;
	}
	/* Never connect to ourselves: a connection made straight to the listener has no record. */
	if (addr_is_loopback(&c->orig) && ss_port(&c->orig) == c->snap->cfg.listen_port)
		return false;
	return true;
}

void conn_accept(struct worker *w, int fd, int lfamily)
{
	struct agent *ag = w->ag;
	struct conn *c;

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->w = w;
	c->snap = agent_snap_acquire(ag);
	if (w->nconns >= c->snap->cfg.max_conns) {
		atomic_fetch_add(&ag->stats.refused_full, 1);
		set_reset_on_close(fd);
		close(fd);
		agent_snap_release(c->snap);
		free(c);
		return;
	}
	arena_init(&c->arena, CONN_ARENA_CAP);
	c->cli = (struct conn_end){ .tag.type = EP_CONN, .c = c, .fd = fd };
	c->up = (struct conn_end){ .tag.type = EP_CONN, .c = c, .fd = -1 };
	c->c2u.pipe[0] = c->c2u.pipe[1] = c->u2c.pipe[0] = c->u2c.pipe[1] = -1;
	c->provider = -1;
	c->start_ms = c->last_ms = mono_ms();
	c->start_unix_ms = unix_ms();
	c->peek_deadline_ms = c->start_ms + c->snap->cfg.peek_timeout_ms;
	atomic_fetch_add(&ag->stats.accepted, 1);
	c->id = atomic_fetch_add(&ag->next_flow_id, 1) + 1;
	w->nconns++;
	atomic_fetch_add(&ag->stats.active, 1);
	c->in_peeking = true;
	conn_list_push(&w->peeking, c);
	if (!recover_destination(c, fd, lfamily)) {
		atomic_fetch_add(&ag->stats.no_origdst, 1);
		log_debug("flow id=%llu closed: no original destination (not redirected by us)",
			  (unsigned long long)c->id);
		c->kind = FLOW_NOT_TLS;
		conn_close(c, NULL);
		return;
	}
	if (c->have_rec) {
		c->exe = arena_strdup(&c->arena, attrib_exe(&w->attrib, c->rec.tgid, c->rec.comm));
		c->user = arena_strdup(&c->arena, attrib_user(&w->attrib, c->rec.uid));
	}
	c->peek = malloc(SNI_MAX_HELLO_BYTES);
	if (!c->peek) {
		conn_close(c, "nomem");
		return;
	}
	c->state = CONN_PEEK;
	ep_add(c, &c->cli, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
	conn_event(&c->cli, EPOLLIN); /* the ClientHello may already be here */
}

static void classify(struct conn *c, enum sni_result r)
{
	const struct mlx_config *cfg = &c->snap->cfg;

	switch (r) {
	case SNI_OK:
		if (!c->sni.has_sni) {
			c->kind = FLOW_NO_SNI;
			break;
		}
		c->provider = config_provider_for(cfg, c->sni.server_name);
		c->kind = c->provider >= 0 ? FLOW_PROVIDER : FLOW_OTHER_SNI;
		break;
	case SNI_NOT_TLS:
	case SNI_NEED_MORE: /* peek timed out or client half-closed mid-hello */
		c->kind = c->peek_len && r == SNI_NEED_MORE ? FLOW_MALFORMED : FLOW_NOT_TLS;
		break;
	case SNI_MALFORMED:
		c->kind = FLOW_MALFORMED;
		break;
	}
}

/* Out of the peeking list: a decision was made. */
static void conn_activate(struct conn *c)
{
	free(c->peek); /* decided: the bytes are still in the socket */
	c->peek = NULL;
	conn_list_remove(&c->w->peeking, c);
	c->in_peeking = false;
	conn_list_push(&c->w->active, c);
}

int conn_connect_upstream(struct conn *c)
{
	uint32_t mark = c->snap->cfg.mark;
	int fd;

	fd = socket(c->orig.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	c->up.fd = fd;
	/* The mark is what keeps our own connect() out of the redirect. */
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if (connect(fd, (struct sockaddr *)&c->orig, c->orig_len) < 0 && errno != EINPROGRESS)
		goto fail;
	ep_add(c, &c->up, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
	return 0;
fail:
	atomic_fetch_add(&c->w->ag->stats.upstream_fail, 1);
	return -1;
}

int conn_upstream_error(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->up.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		atomic_fetch_add(&c->w->ag->stats.upstream_fail, 1);
		log_info("flow id=%llu upstream connect failed: %s", (unsigned long long)c->id,
			 strerror(err));
	}
	return err;
}

static void start_upstream(struct conn *c)
{
	conn_activate(c);
	if (conn_connect_upstream(c) < 0) {
		set_reset_on_close(c->cli.fd);
		conn_close(c, "upstream_connect_failed");
		return;
	}
	c->state = CONN_CONNECTING;
}

/* Decrypt only provider SNIs, only with a CA loaded, and never a client known to refuse us. */
static bool should_intercept(struct conn *c)
{
	struct agent *ag = c->w->ag;

	if (c->kind != FLOW_PROVIDER || !c->snap->cfg.intercept || !ag->certmint)
		return false;
	if (pinset_has(&ag->pinned, c->exe ? c->exe : "?", c->sni.server_name)) {
		atomic_fetch_add(&ag->stats.pinned_spliced, 1);
		c->pinned = true;
		return false;
	}
	return true;
}

static void decide(struct conn *c)
{
	if (should_intercept(c)) {
		conn_activate(c);
		c->state = CONN_SPLICE; /* unused while c->mitm drives the connection */
		mitm_start(c);
		return;
	}
	start_upstream(c);
}

/* The ClientHello is read with MSG_PEEK: it stays in the socket, so the splice path forwards it
 * like any other byte and a TLS terminator reads it itself. */
static void peek_read(struct conn *c, uint32_t events)
{
	enum sni_result r;
	ssize_t n;

	n = recv(c->cli.fd, c->peek, SNI_MAX_HELLO_BYTES, MSG_PEEK);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_close(c, "client_reset");
		return;
	}
	if (n == 0) {
		c->kind = FLOW_NOT_TLS;
		conn_close(c, "client_closed_early");
		return;
	}
	c->peek_len = n;
	r = sni_parse(c->peek, c->peek_len, &c->sni);
	if (r == SNI_NEED_MORE) {
		/* Wait for the rest unless the client stopped sending or the buffer is full. */
		if (c->peek_len < SNI_MAX_HELLO_BYTES && !(events & (EPOLLRDHUP | EPOLLHUP)))
			return;
		r = c->peek_len < SNI_MAX_HELLO_BYTES ? SNI_NEED_MORE : SNI_MALFORMED;
	}
	classify(c, r);
	decide(c);
}

void conn_peek_expired(struct conn *c)
{
	atomic_fetch_add(&c->w->ag->stats.peek_timeouts, 1);
	classify(c, c->peek_len ? SNI_NEED_MORE : SNI_NOT_TLS);
	decide(c);
}

static int make_pipe(struct splice_dir *d)
{
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	return 0;
}

/* Move bytes <from> -> <to> through the pipe until both sides would block. 0 or -errno;
 * on error *<failed_fd> says which socket failed. */
static int pump(struct splice_dir *d, int from, int to, int *failed_fd)
{
	ssize_t n;
	bool progress;

	do {
		progress = false;
		if (!d->eof && d->in_pipe < PIPE_CAP) {
			n = splice(from, NULL, d->pipe[1], NULL, PIPE_CAP - d->in_pipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->in_pipe += n;
				progress = true;
			} else if (n == 0) {
				d->eof = true;
				progress = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				*failed_fd = from;
				return -errno;
			}
		}
		if (d->in_pipe > 0) {
			n = splice(d->pipe[0], NULL, to, NULL, d->in_pipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->in_pipe -= n;
				d->bytes += n;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				*failed_fd = to;
				return -errno;
			}
		}
		if (d->eof && d->in_pipe == 0 && !d->shut) {
			shutdown(to, SHUT_WR);
			d->shut = true;
		}
	} while (progress);
	return 0;
}

static void splice_both(struct conn *c)
{
	int rc, failed = -1;

	rc = pump(&c->c2u, c->cli.fd, c->up.fd, &failed);
	if (rc)
		goto broken;
	rc = pump(&c->u2c, c->up.fd, c->cli.fd, &failed);
	if (rc)
		goto broken;
	if (c->c2u.shut && c->u2c.shut)
		conn_close(c, "eof");
	return;
broken:
	/* One side broke: the other side sees a reset too, as it would without us. */
	if (failed == c->cli.fd) {
		set_reset_on_close(c->up.fd);
		conn_close(c, rc == -ECONNRESET || rc == -EPIPE ? "client_reset" : "client_error");
	} else {
		set_reset_on_close(c->cli.fd);
		conn_close(c, rc == -ECONNRESET || rc == -EPIPE ? "upstream_reset" : "upstream_error");
	}
}

static void upstream_connected(struct conn *c)
{
	if (conn_upstream_error(c)) {
		set_reset_on_close(c->cli.fd);
		conn_close(c, "upstream_connect_failed");
		return;
	}
	if (make_pipe(&c->c2u) || make_pipe(&c->u2c)) {
		set_reset_on_close(c->cli.fd);
		conn_close(c, "no_pipes");
		return;
	}
	c->state = CONN_SPLICE;
	splice_both(c);
}

void conn_event(struct conn_end *e, uint32_t events)
{
	struct conn *c = e->c;

	if (c->dead)
		return; /* closed earlier in this epoll batch; freed after it */
	conn_touch(c);
	if (c->mitm) {
		mitm_event(c, e, events);
		return;
	}
	switch (c->state) {
	case CONN_PEEK:
		if (e == &c->cli)
			peek_read(c, events);
		break;
	case CONN_CONNECTING:
		if (e == &c->up && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			upstream_connected(c);
		break;
	case CONN_SPLICE:
		splice_both(c);
		break;
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void conn_close(struct conn *c, const char *end)
{
	struct worker *w = c->w;
	struct agent *ag = w->ag;

	if (end) {
		atomic_fetch_add(&ag->stats.flows[c->kind], 1);
		atomic_fetch_add(&ag->stats.bytes_up, c->c2u.bytes);
		atomic_fetch_add(&ag->stats.bytes_down, c->u2c.bytes);
		flowlog_emit(c, end);
	}
	if (c->in_peeking)
		conn_list_remove(&w->peeking, c);
	else
		conn_list_remove(&w->active, c);
	close_fd(&c->cli.fd);
	close_fd(&c->up.fd);
	close_fd(&c->c2u.pipe[0]);
	close_fd(&c->c2u.pipe[1]);
	close_fd(&c->u2c.pipe[0]);
	close_fd(&c->u2c.pipe[1]);
	mitm_free(c);
	free(c->peek);
	arena_release(&c->arena);
	agent_snap_release(c->snap);
	w->nconns--;
	atomic_fetch_sub(&ag->stats.active, 1);
	/* Other events of this epoll batch may still point at us: free after the batch. */
	c->dead = true;
	c->grave_next = w->graveyard;
	w->graveyard = c;
}
