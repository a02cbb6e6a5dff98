/* resolver: see resolver.h. */
#include "resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

int resolver_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *port = NULL;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	unsigned long p = 53;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1])
			return -EINVAL;
	} else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':')) {
		const char *c = strchr(s, ':');

		if ((size_t)(c - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, c - s);
		host[c - s] = '\0';
		port = c + 1;
	} else {
		if (strlen(s) >= sizeof(host))
			return -EINVAL;
		strcpy(host, s);
	}
	if (port) {
		char *endp;

		p = strtoul(port, &endp, 10);
		if (*endp || p == 0 || p > 65535)
			return -EINVAL;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

int resolver_default_server(char *buf, size_t len)
{
	char line[256], addr[128];
	FILE *f = fopen("/etc/resolv.conf", "re");
	int rc = -ENOENT;

	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " nameserver %127s", addr) == 1) {
			if (strchr(addr, ':') && snprintf(buf, len, "[%s]", addr) < (int)len)
				rc = 0;
			else if (!strchr(addr, ':') && snprintf(buf, len, "%s", addr) < (int)len)
				rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int resolver_open(struct resolver *r, const char *server, uint32_t mark, resolver_answer_fn fn,
		  void *ctx, char *err, size_t errlen)
{
	char def[128];

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->on_answer = fn;
	r->ctx = ctx;
	if (!server || !server[0]) {
		if (resolver_default_server(def, sizeof(def))) {
			snprintf(err, errlen, "resolver: no nameserver in /etc/resolv.conf");
			return -ENOENT;
		}
		server = def;
	}
	if (resolver_parse_addr(server, &r->server, &r->server_len)) {
		snprintf(err, errlen, "resolver: bad address '%s'", server);
		return -EINVAL;
	}
	r->fd = socket(r->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		snprintf(err, errlen, "resolver: socket: %s", strerror(errno));
		return -errno;
	}
	if (mark)
		setsockopt(r->fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	/* Connected, so the kernel filters replies from anyone else. */
	if (connect(r->fd, (struct sockaddr *)&r->server, r->server_len) < 0) {
		snprintf(err, errlen, "resolver: connect %s: %s", server, strerror(errno));
		close(r->fd);
		r->fd = -1;
		return -errno;
	}
	if (getrandom(&r->next_id, sizeof(r->next_id), 0) < 0)
		r->next_id = (uint16_t)getpid();
	return 0;
}

static void send_one(struct resolver *r, const char *name, uint16_t qtype)
{
	uint8_t msg[512];
	int n;
	size_t slot;

	if (r->npending >= RESOLVER_MAX_PENDING)
		return;
	/* Ids step by an odd constant: unique within the window, not trivially guessable. */
	r->next_id += 40503;
	n = dns_build_query(msg, sizeof(msg), r->next_id, name, qtype);
	if (n < 0)
		return;
	if (send(r->fd, msg, n, 0) != n) {
		r->errors++;
		return;
	}
	slot = r->npending++;
	r->pending[slot].id = r->next_id;
	r->pending[slot].qtype = qtype;
	snprintf(r->pending[slot].name, sizeof(r->pending[slot].name), "%s", name);
	r->sent++;
}

void resolver_query_all(struct resolver *r, const struct mlx_config *cfg)
{
	size_t p, d;

	/* Answers of the previous round that never came are forgotten. */
	r->npending = 0;
	for (p = 0; p < cfg->nproviders; p++)
		for (d = 0; d < cfg->providers[p].ndomains; d++) {
			const char *dom = cfg->providers[p].domains[d];

			if (dom[0] == '*')
				continue; /* wildcards are learned from client DNS only */
			send_one(r, dom, DNS_TYPE_A);
			send_one(r, dom, DNS_TYPE_AAAA);
		}
}

void resolver_dispatch(struct resolver *r)
{
	uint8_t buf[4096];
	struct dns_answer ans;
	ssize_t n;
	size_t i;

	while ((n = recv(r->fd, buf, sizeof(buf), 0)) > 0) {
		if (dns_parse_response(buf, n, &ans))
			continue;
		for (i = 0; i < r->npending; i++) {
			if (r->pending[i].id != ans.id || r->pending[i].qtype != ans.qtype ||
			    strcasecmp(r->pending[i].name, ans.qname) != 0)
				continue;
			r->pending[i] = r->pending[--r->npending];
			r->answered++;
			if (ans.naddrs && r->on_answer)
				r->on_answer(r->ctx, &ans);
			break;
		}
	}
}

void resolver_close(struct resolver *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}
