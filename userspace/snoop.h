/* snoop: learns provider addresses from the DNS answers clients actually receive. DNS responses
 * (UDP source port 53) entering this netns are queued by an iptables NFQUEUE rule the agent
 * installs; each is parsed and accepted only after its addresses are in the targets map, so a
 * client can never connect before the redirect knows the address. The rule uses --queue-bypass
 * and the queue NFQA_CFG_F_FAIL_OPEN: with the agent gone or slow, DNS flows untouched.
 * Owns the netlink queue handle and the iptables rules it added. */
#ifndef MODELUX_SNOOP_H
#define MODELUX_SNOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "dns.h"

struct nfq_handle;
struct nfq_q_handle;

/* Called for each DNS response seen (before the verdict). */
typedef void (*snoop_answer_fn)(void *ctx, const struct dns_answer *ans);

struct dns_snoop {
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	int fd;
	uint16_t queue_num;
	bool rules4, rules6;
	snoop_answer_fn on_answer;
	void *ctx;
	uint64_t packets, answers, malformed, verdict_errors;
};

/* snoop_open - bind queue <num>, then add the iptables/ip6tables rules. 0 or -errno + <err>. */
int snoop_open(struct dns_snoop *q, uint16_t num, snoop_answer_fn fn, void *ctx, char *err, size_t errlen);

/* snoop_dispatch - drain the queue socket (call when q->fd is readable). */
void snoop_dispatch(struct dns_snoop *q);

/* snoop_close - remove our rules and unbind. Safe on a zeroed struct. */
void snoop_close(struct dns_snoop *q);

#endif
