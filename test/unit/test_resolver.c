/* test_resolver: address parsing for `resolver` and `metrics_addr`, and the agent's own query
 * round trip against a real UDP socket standing in for the resolver on 127.0.0.1. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "resolver.h"

static void parse_forms(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	assert_int_equal(resolver_parse_addr("10.201.0.53", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 53);
	assert_int_equal(len, sizeof(*sin));
	assert_int_equal(resolver_parse_addr("127.0.0.1:5353", &ss, &len), 0);
	assert_int_equal(ntohs(sin->sin_port), 5353);
	assert_int_equal(resolver_parse_addr("::1", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 53);
	assert_int_equal(resolver_parse_addr("[fd00::1]:9464", &ss, &len), 0);
	assert_int_equal(ntohs(sin6->sin6_port), 9464);
	assert_int_equal(len, sizeof(*sin6));
	assert_int_equal(resolver_parse_addr("dns.example.com", &ss, &len), -EINVAL);
	assert_int_equal(resolver_parse_addr("1.2.3.4:0", &ss, &len), -EINVAL);
	assert_int_equal(resolver_parse_addr("1.2.3.4:65536", &ss, &len), -EINVAL);
	assert_int_equal(resolver_parse_addr("[::1", &ss, &len), -EINVAL);
	assert_int_equal(resolver_parse_addr("[::1]x", &ss, &len), -EINVAL);
	assert_int_equal(resolver_parse_addr("1.2.3.4:53x", &ss, &len), -EINVAL);
}

static int answers;
static char answered_name[256];

static void on_answer(void *ctx, const struct dns_answer *ans)
{
	answers++;
	snprintf(answered_name, sizeof(answered_name), "%s", ans->qname);
	assert_int_equal(ans->naddrs, 1);
}

/* Answer one query from <fd> with A 10.201.0.2, echoing its id and question (optionally with a
 * wrong id, which the resolver must ignore). */
static void answer_one(int fd, int wrong_id)
{
	uint8_t buf[512];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 201, 0, 2 };

	assert_true(n > 12);
	if (wrong_id)
		buf[0] ^= 0xff;
	buf[2] |= 0x80; /* QR */
	buf[7] = 1;     /* ANCOUNT */
	memcpy(buf + n, rr, sizeof(rr));
	assert_int_equal(sendto(fd, buf, n + sizeof(rr), 0, (struct sockaddr *)&from, flen),
			 n + (ssize_t)sizeof(rr));
}

static void query_round_trip(void **state)
{
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(srv);
	struct mlx_config cfg = { 0 };
	char *doms[] = { "api.openai.com", "*.openai.azure.com" };
	struct mlx_provider prov = { .name = "openai", .domains = doms, .ndomains = 2 };
	struct resolver r;
	char addr[64], err[256];
	struct pollfd pfd;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&srv, sizeof(srv)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&srv, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(srv.sin_port));
	assert_int_equal(resolver_open(&r, addr, 0, on_answer, NULL, err, sizeof(err)), 0);
	cfg.providers = &prov;
	cfg.nproviders = 1;
	resolver_query_all(&r, &cfg);
	assert_int_equal(r.sent, 2); /* A and AAAA for the one non-wildcard name */
	answer_one(fd, 1);
	answer_one(fd, 0);
	pfd = (struct pollfd){ .fd = r.fd, .events = POLLIN };
	while (poll(&pfd, 1, 1000) == 1 && answers == 0)
		resolver_dispatch(&r);
	assert_int_equal(answers, 1); /* the wrong-id answer was ignored */
	assert_string_equal(answered_name, "api.openai.com");
	assert_int_equal(r.answered, 1);
	resolver_close(&r);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_forms),
		cmocka_unit_test(query_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
