/* snoop: see nfq.h. */
#include "snoop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

/* Run iptables/ip6tables with <action> (-C, -I or -D) for our rule. Returns its exit status. */
static int rule(const char *tool, const char *action, uint16_t num)
{
	char qnum[8];
	char *argv[] = { (char *)tool, "-w", "5", (char *)action, "INPUT", "-p", "udp",
			 "--sport", "53", "-j", "NFQUEUE", "--queue-num", qnum,
			 "--queue-bypass", "-m", "comment", "--comment", "modelux-dns", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	snprintf(qnum, sizeof(qnum), "%u", num);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	st = posix_spawnp(&pid, tool, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (st)
		return -st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EINTR;
}

static bool rule_ensure(const char *tool, uint16_t num)
{
	if (rule(tool, "-C", num) == 0)
		return true; /* left by an earlier agent: harmless with --queue-bypass, reuse it */
	return rule(tool, "-I", num) == 0;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
		     void *data)
{
	struct dns_snoop *q = data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *pkt;
	const uint8_t *dns;
	size_t dlen;
	int len;

	if (!ph)
		return 0;
	q->packets++;
	len = nfq_get_payload(nfa, &pkt);
	if (len > 0 && dns_udp_payload(pkt, len, &dns, &dlen) == 0) {
		struct dns_answer ans;

		if (dns_parse_response(dns, dlen, &ans) == 0) {
			q->answers++;
			if (ans.naddrs && q->on_answer)
				q->on_answer(q->ctx, &ans);
		} else {
			q->malformed++;
		}
	}
	/* Always accept: we observe DNS, we never filter it. */
	if (nfq_set_verdict(qh, ntohl(ph->packet_id), NF_ACCEPT, 0, NULL) < 0)
		q->verdict_errors++;
	return 0;
}

int snoop_open(struct dns_snoop *q, uint16_t num, snoop_answer_fn fn, void *ctx, char *err, size_t errlen)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->queue_num = num;
	q->on_answer = fn;
	q->ctx = ctx;
	q->h = nfq_open();
	if (!q->h) {
		snprintf(err, errlen, "nfqueue: open netlink: %s", strerror(errno));
		return -errno;
	}
	q->qh = nfq_create_queue(q->h, num, on_packet, q);
	if (!q->qh) {
		snprintf(err, errlen, "nfqueue: bind queue %u: %s (another consumer?)", num,
			 strerror(errno));
		goto fail;
	}
	if (nfq_set_mode(q->qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		snprintf(err, errlen, "nfqueue: set copy mode: %s", strerror(errno));
		goto fail;
	}
	/* Queue full: accept instead of dropping, so DNS never breaks because of us. */
	nfq_set_queue_flags(q->qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
	nfq_set_queue_maxlen(q->qh, 4096);
	q->fd = nfq_fd(q->h);
	fcntl(q->fd, F_SETFL, fcntl(q->fd, F_GETFL) | O_NONBLOCK);
	{
		int sz = 4 << 20;

		setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	}
	q->rules4 = rule_ensure("iptables", num);
	q->rules6 = rule_ensure("ip6tables", num);
	if (!q->rules4) {
		snprintf(err, errlen, "nfqueue: cannot add the iptables NFQUEUE rule for DNS");
		goto fail;
	}
	if (!q->rules6)
		log_warn("nfqueue: no ip6tables rule: DNS answers over IPv6 are not observed");
	return 0;
fail:
	snoop_close(q);
	return -EIO;
}

void snoop_dispatch(struct dns_snoop *q)
{
	char buf[65536 + 512] __attribute__((aligned));
	ssize_t n;

	while ((n = recv(q->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		nfq_handle_packet(q->h, buf, n);
	if (n < 0 && errno == ENOBUFS)
		log_warn("nfqueue: receive buffer overrun; the kernel accepted those answers unseen");
}

void snoop_close(struct dns_snoop *q)
{
	if (q->rules4)
		rule("iptables", "-D", q->queue_num);
	if (q->rules6)
		rule("ip6tables", "-D", q->queue_num);
	q->rules4 = q->rules6 = false;
	if (q->qh)
		nfq_destroy_queue(q->qh);
	q->qh = NULL;
	if (q->h)
		nfq_close(q->h);
	q->h = NULL;
	q->fd = -1;
}
