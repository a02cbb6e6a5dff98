/* ctlsock: see ctlsock.h. */
#include "ctlsock.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "govern.h"
#include "resolver.h"
#include "status.h"

#define REQ_MAX 4096

/* Implemented in agent.c: applies a reload and describes the outcome as JSON. */
char *agent_reload_json(struct agent *ag);

int ctl_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)];
	char *slash;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a stale socket from an agent that was killed */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int e = errno;

		snprintf(err, errlen, "control socket %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int metrics_listen(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (resolver_parse_addr(addr, &ss, &len)) {
		snprintf(err, errlen, "metrics_addr: bad address '%s'", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		int e = errno;

		snprintf(err, errlen, "metrics %s: %s", addr, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

/* Read until <terminator> is seen, the buffer is full, EOF, or the 500 ms timeout. */
static ssize_t read_request(int fd, char *buf, size_t cap, const char *terminator)
{
	struct timeval tv = { .tv_usec = 500 * 1000 };
	size_t off = 0;
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (off + 1 < cap) {
		n = recv(fd, buf + off, cap - 1 - off, 0);
		if (n <= 0)
			break;
		off += n;
		buf[off] = '\0';
		if (strstr(buf, terminator))
			break;
	}
	buf[off] = '\0';
	return off;
}

static void write_all(int fd, const char *p, size_t len)
{
	struct timeval tv = { .tv_sec = 1 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

static int accept_blocking(int lfd)
{
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

void ctl_serve_one(struct agent *ag, int lfd)
{
	char req[REQ_MAX], *nl, *out = NULL;
	int fd = accept_blocking(lfd);

	if (fd < 0)
		return;
	read_request(fd, req, sizeof(req), "\n");
	nl = strchr(req, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(req, "status") == 0)
		out = status_json(ag);
	else if (strcmp(req, "reload") == 0)
		out = agent_reload_json(ag);
	else if (strcmp(req, "budgets") == 0 && ag->gov) {
		json_t *j = govern_budgets_json(ag->gov);

		out = j ? json_dumps(j, 0) : NULL;
		json_decref(j);
	}
	if (out) {
		write_all(fd, out, strlen(out));
		write_all(fd, "\n", 1);
	} else {
		const char *e = "{\"error\":\"unknown command\"}\n";

		write_all(fd, e, strlen(e));
	}
	free(out);
	close(fd);
}

void metrics_serve_one(struct agent *ag, int lfd)
{
	char req[REQ_MAX], head[256];
	size_t len = 0;
	char *body;
	int fd = accept_blocking(lfd);

	if (fd < 0)
		return;
	read_request(fd, req, sizeof(req), "\r\n\r\n");
	if (strncmp(req, "GET /metrics ", 13) != 0 && strncmp(req, "GET / ", 6) != 0) {
		const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

		write_all(fd, nf, strlen(nf));
		close(fd);
		return;
	}
	body = status_prometheus(ag, &len);
	if (body) {
		int n = snprintf(head, sizeof(head),
				 "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
				 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
				 len);

		write_all(fd, head, n);
		write_all(fd, body, len);
	}
	free(body);
	close(fd);
}

char *ctl_request(const char *path, const char *cmd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t cap = 65536, off = 0;
	char *buf;
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	write_all(fd, cmd, strlen(cmd));
	write_all(fd, "\n", 1);
	buf = malloc(cap);
	while (buf && (n = recv(fd, buf + off, cap - 1 - off, 0)) > 0) {
		off += n;
		if (off + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf)
		buf[off] = '\0';
	close(fd);
	return buf;
}
