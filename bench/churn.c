/* churn: connection-churn load for `make bench` - one new TLS connection per request.
 *
 *   churn -a ADDR -p PORT -s SNI [-u PATH] [-c CONNS] [-d SECS] [-w WARMUP_SECS] [-R]
 *
 * Keeps CONNS (default 32) clients busy, one thread (like h2load -t 1): each connects to
 * ADDR:PORT (an IPv4 literal: through modelux this is the provider's address, which the BPF
 * redirect hands to the agent), completes a full TLS handshake (SNI, ALPN http/1.1, certificate
 * not checked; no session resumption unless -R), sends one
 * `GET PATH HTTP/1.1` (keep-alive, nothing special), reads the whole response (Content-Length
 * framing), then closes the connection (close_notify, close) and starts over. The client closes
 * after each complete response, so every target (server, proxy) sees the same thing: a client
 * that goes away from an idle keep-alive connection. Only requests completed inside the measured
 * window after the warm-up count; at the end, connections in flight are finished, not dropped. With -R each client offers the session (TLS 1.3 ticket) of its
 * previous connection, as h2load and Node's https agent do when they reconnect: an abbreviated
 * handshake when the server accepts it. Prints one line:
 *
 *   churn: conns=32 ok=N errors=E secs=S rps=R resumed=P alpn=http/1.1 first_error=...
 *
 * resumed = the percentage of the measured connections whose session was resumed.
 *
 * A request counts as ok when its status is 2xx. Exit status 0 when ok > 0.
 *
 * Build (run.sh does): gcc -O2 -Wall -Wextra -D_GNU_SOURCE bench/churn.c -lssl -lcrypto -o build/bench_churn
 *
 * Why not h2load: `h2load --h1 -H 'Connection: close'` makes it reconnect after each response,
 * but in timing mode (-D) it stalls on reconnects (nghttp2 1.52), it always resumes the previous
 * TLS session on a reconnect (so it never measures a full handshake), and it needs the proxy to
 * honour a client's Connection: close. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum st { CONNECTING, HANDSHAKE, WRITING, READING };

struct cl {
	int fd;
	SSL *ssl;
	SSL_SESSION *sess; /* -R: the previous connection's session, offered on the next */
	enum st st;
	char req[512];
	size_t reqlen, reqoff;
	char buf[16384];
	size_t len;
	long need; /* total bytes of the response once the head is parsed, else -1 */
	int status;
};

static SSL_CTX *ctx;
static struct sockaddr_in dst;
static const char *sni = "api.openai.com", *path = "/v1/ping";
static int ep;
static long ok_count, err_count, conn_count, resumed_count;
static bool measuring, resume;
static char first_error[200];
static char alpn_seen[32];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note_error(const char *what)
{
	if (!measuring)
		return;
	err_count++;
	if (!first_error[0]) {
		unsigned long e = ERR_peek_error();

		snprintf(first_error, sizeof(first_error), "%s%s%s", what, e ? ":" : "",
			 e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "?" : "");
		for (char *p = first_error; *p; p++)
			if (*p == ' ')
				*p = '_';
	}
}

static void watch(struct cl *c, uint32_t events, bool add)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	epoll_ctl(ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev);
}

static void start(struct cl *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perror("churn: socket");
		exit(1);
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ssl = NULL;
	c->len = 0;
	c->need = -1;
	c->status = 0;
	c->reqoff = 0;
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		note_error("connect");
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->st = CONNECTING;
	watch(c, EPOLLOUT, true);
}

static void finish(struct cl *c, bool polite)
{
	if (c->ssl) {
		if (polite)
			SSL_shutdown(c->ssl); /* close_notify, as a well-behaved client does */
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd); /* also removes it from the epoll set */
	c->fd = -1;
	c->ssl = NULL;
}

static void fail(struct cl *c, const char *what)
{
	note_error(what);
	finish(c, false);
}

/* Parse the head in c->buf: status, Content-Length. 1 when parsed, 0 when incomplete, -1 bad. */
static int parse_head(struct cl *c)
{
	char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *p, *line;
	long clen = -1;

	if (!end)
		return c->len == sizeof(c->buf) ? -1 : 0;
	if (c->len < 12 || memcmp(c->buf, "HTTP/1.", 7))
		return -1;
	c->status = atoi(c->buf + 9);
	for (line = memchr(c->buf, '\n', end - c->buf); line && line < end; line = p) {
		line++;
		p = memchr(line, '\n', end + 2 - line);
		if (!p)
			break;
		if (!strncasecmp(line, "content-length:", 15))
			clen = strtol(line + 15, NULL, 10);
	}
	if (clen < 0)
		return -1;
	c->need = (end + 4 - c->buf) + clen;
	return 1;
}

static void step(struct cl *c)
{
	int r, e;

	for (;;) {
		switch (c->st) {
		case CONNECTING: {
			int err = 0;
			socklen_t l = sizeof(err);

			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err) {
				errno = err;
				return fail(c, "connect");
			}
			c->ssl = SSL_new(ctx);
			SSL_set_fd(c->ssl, c->fd);
			SSL_set_tlsext_host_name(c->ssl, sni);
			if (resume && c->sess)
				SSL_set_session(c->ssl, c->sess);
			SSL_set_connect_state(c->ssl);
			c->st = HANDSHAKE;
			break;
		}
		case HANDSHAKE:
			r = SSL_do_handshake(c->ssl);
			if (r == 1) {
				if (!alpn_seen[0]) {
					const unsigned char *a = NULL;
					unsigned int al = 0;

					SSL_get0_alpn_selected(c->ssl, &a, &al);
					snprintf(alpn_seen, sizeof(alpn_seen), "%.*s", a ? (int)al : 4,
						 a ? (const char *)a : "none");
				}
				c->st = WRITING;
				break;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return watch(c, EPOLLIN, false);
			if (e == SSL_ERROR_WANT_WRITE)
				return watch(c, EPOLLOUT, false);
			return fail(c, "handshake");
		case WRITING:
			r = SSL_write(c->ssl, c->req + c->reqoff, (int)(c->reqlen - c->reqoff));
			if (r > 0) {
				c->reqoff += r;
				if (c->reqoff == c->reqlen)
					c->st = READING;
				break;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return watch(c, EPOLLIN, false);
			if (e == SSL_ERROR_WANT_WRITE)
				return watch(c, EPOLLOUT, false);
			return fail(c, "write");
		case READING:
			if (c->len == sizeof(c->buf)) {
				/* head parsed already and the body does not fit: drop what we have */
				if (c->need < 0)
					return fail(c, "head_too_big");
				c->need -= (long)c->len;
				c->len = 0;
			}
			r = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
			if (r > 0) {
				c->len += r;
				if (c->need < 0) {
					int h = parse_head(c);

					if (h < 0)
						return fail(c, "bad_response");
					if (h == 0)
						break;
				}
				if ((long)c->len >= c->need) {
					if (measuring) {
						conn_count++;
						resumed_count += SSL_session_reused(c->ssl) == 1;
					}
					if (resume) {
						SSL_SESSION *s = SSL_get1_session(c->ssl);

						if (s && SSL_SESSION_is_resumable(s)) {
							SSL_SESSION_free(c->sess);
							c->sess = s;
						} else {
							SSL_SESSION_free(s);
						}
					}
					if (c->status >= 200 && c->status < 300) {
						if (measuring)
							ok_count++;
					} else {
						char w[32];

						snprintf(w, sizeof(w), "status_%d", c->status);
						note_error(w);
					}
					finish(c, true);
					return;
				}
				break;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return watch(c, EPOLLIN, false);
			if (e == SSL_ERROR_WANT_WRITE)
				return watch(c, EPOLLOUT, false);
			return fail(c, e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? "closed_before_response" : "read");
		}
	}
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	int port = 443, conns = 32, opt, i;
	double dur = 8, warm = 2;

	while ((opt = getopt(argc, argv, "a:p:s:u:c:d:w:R")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's': sni = optarg; break;
		case 'u': path = optarg; break;
		case 'c': conns = atoi(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'R': resume = true; break;
		default:
			fprintf(stderr, "usage: churn -a ADDR -p PORT -s SNI [-u PATH] [-c CONNS] [-d SECS] [-w SECS] [-R]\n");
			return 2;
		}
	}
	if (!addr || conns < 1 || dur <= 0 || warm < 0) {
		fprintf(stderr, "churn: -a ADDR needed; -c >= 1, -d > 0, -w >= 0\n");
		return 2;
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1) {
		fprintf(stderr, "churn: bad IPv4 address %s\n", addr);
		return 2;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* Sessions are kept by hand (-R), never by OpenSSL's cache. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	ep = epoll_create1(EPOLL_CLOEXEC);
	struct cl *cl = calloc(conns, sizeof(*cl));
	for (i = 0; i < conns; i++) {
		cl[i].reqlen = snprintf(cl[i].req, sizeof(cl[i].req),
					"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: modelux-bench-churn\r\n"
					"Accept: */*\r\n\r\n", path, sni);
		cl[i].fd = -1;
		start(&cl[i]);
	}
	double t0 = now(), tm = t0 + warm, tend = tm + dur, t, elapsed = 0;
	bool stopping = false;

	if (warm == 0)
		measuring = true;
	for (;;) {
		struct epoll_event ev[64];
		int n, k, active = 0;

		t = now();
		if (!measuring && !stopping && t >= tm) {
			measuring = true;
			ok_count = err_count = conn_count = resumed_count = 0;
		}
		if (!stopping && t >= tend) {
			/* The window is over: count nothing more, start no new connection, and let those
			 * in flight finish (at most 5 s) instead of dropping them mid-handshake - an
			 * interceptor may take a handshake broken off for a client refusing its
			 * certificate. */
			stopping = true;
			measuring = false;
			elapsed = t - tm;
		}
		for (i = 0; i < conns; i++)
			active += cl[i].fd >= 0;
		if (stopping && (active == 0 || t >= tend + 5))
			break;
		n = epoll_wait(ep, ev, 64, 50);
		for (k = 0; k < n; k++)
			step(ev[k].data.ptr);
		if (!stopping)
			for (i = 0; i < conns; i++) /* closed ones (done or failed): a new connection */
				if (cl[i].fd < 0)
					start(&cl[i]);
	}
	t = elapsed;
	printf("churn: conns=%d ok=%ld errors=%ld secs=%.2f rps=%.1f resumed=%.0f alpn=%s first_error=%s\n",
	       conns, ok_count, err_count, t, ok_count / t,
	       conn_count ? 100.0 * resumed_count / conn_count : 0.0, alpn_seen[0] ? alpn_seen : "none",
	       first_error[0] ? first_error : "none");
	return ok_count > 0 ? 0 : 1;
}
