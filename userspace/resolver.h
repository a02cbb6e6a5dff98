/* resolver: the agent's own periodic resolution of the configured (non-wildcard) provider names,
 * so targets are known before any client asks and stay fresh. Sends A and AAAA queries over UDP
 * to one resolver and hands the answers to the same callback DNS snooping uses.
 * Owns its socket and the table of outstanding query ids. */
#ifndef MODELUX_RESOLVER_H
#define MODELUX_RESOLVER_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "dns.h"

#define RESOLVER_MAX_PENDING 256

typedef void (*resolver_answer_fn)(void *ctx, const struct dns_answer *ans);

struct resolver {
	int fd;
	struct sockaddr_storage server;
	socklen_t server_len;
	uint16_t next_id;
	struct {
		uint16_t id;
		uint16_t qtype;
		char name[254];
	} pending[RESOLVER_MAX_PENDING];
	size_t npending;
	resolver_answer_fn on_answer;
	void *ctx;
	uint64_t sent, answered, errors;
};

/* resolver_parse_addr - "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353" into <ss>. 0 or -EINVAL. */
int resolver_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* resolver_default_server - first nameserver of /etc/resolv.conf into <buf>. 0 or -ENOENT. */
int resolver_default_server(char *buf, size_t len);

/* resolver_open - socket to <server> ("" = resolv.conf), marked with <mark>. 0 or -errno. */
int resolver_open(struct resolver *r, const char *server, uint32_t mark, resolver_answer_fn fn,
		  void *ctx, char *err, size_t errlen);

/* resolver_query_all - send A and AAAA for every non-wildcard domain of <cfg>. */
void resolver_query_all(struct resolver *r, const struct mlx_config *cfg);

/* resolver_dispatch - read answers (call when r->fd is readable). */
void resolver_dispatch(struct resolver *r);

void resolver_close(struct resolver *r);

#endif
