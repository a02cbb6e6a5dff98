/* test_targets: the learned-address table — TTL floor and expiry, refresh, shared addresses,
 * one BPF key per configured port, reconfigure and rebind on reload. The apply callback records
 * what would reach the BPF map (the map itself is exercised by the integration tests). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "targets.h"

struct applied {
	int adds, dels;
	struct mlx_target_key last;
	uint16_t last_provider;
	int fail;
};

static int record(void *ctx, const struct mlx_target_key *k, uint16_t provider, bool add)
{
	struct applied *a = ctx;

	if (add)
		a->adds++;
	else
		a->dels++;
	a->last = *k;
	a->last_provider = provider;
	return a->fail ? -ENOSPC : 0;
}

static const uint16_t port443[] = { 443 };
static const uint16_t two_ports[] = { 443, 8443 };

static void learn_refresh_expire(void **state)
{
	struct targets t;
	struct applied a = { 0 };
	uint8_t ip[4] = { 10, 201, 0, 2 }, m[16];

	targets_init(&t, port443, 1, 300, 100, record, &a);
	assert_int_equal(targets_learn(&t, AF_INET, ip, 1, 30, "api.openai.com", TARGET_SRC_DNS, 0), 1);
	assert_int_equal(a.adds, 1);
	assert_int_equal(a.last.port, 443);
	assert_int_equal(a.last.addr[10], 0xff);
	assert_memory_equal(&a.last.addr[12], ip, 4);
	/* TTL 30 is raised to the 300 s floor. */
	addr_to_mapped(AF_INET, ip, m);
	assert_int_equal(targets_lookup(&t, m)->expires_ms, 300000);
	/* A refresh extends, never shortens, and does not touch the map again. */
	assert_int_equal(targets_learn(&t, AF_INET, ip, 1, 600, "api.openai.com", TARGET_SRC_RESOLVER, 1000), 0);
	assert_int_equal(targets_lookup(&t, m)->expires_ms, 601000);
	assert_int_equal(targets_learn(&t, AF_INET, ip, 1, 1, "api.openai.com", TARGET_SRC_DNS, 2000), 0);
	assert_int_equal(targets_lookup(&t, m)->expires_ms, 601000);
	assert_int_equal(a.adds, 1);
	assert_int_equal(targets_expire(&t, 600999), 0);
	assert_int_equal(targets_expire(&t, 601000), 1);
	assert_int_equal(a.dels, 1);
	assert_null(targets_lookup(&t, m));
	assert_int_equal(t.count, 0);
	assert_int_equal(t.expired_total, 1);
}

static void shared_address_changes_provider(void **state)
{
	struct targets t;
	struct applied a = { 0 };
	uint8_t ip[4] = { 104, 18, 0, 1 };

	targets_init(&t, port443, 1, 0, 100, record, &a);
	targets_learn(&t, AF_INET, ip, 1, 60, "api.openai.com", TARGET_SRC_DNS, 0);
	targets_learn(&t, AF_INET, ip, 3, 60, "api.anthropic.com", TARGET_SRC_DNS, 0);
	assert_int_equal(a.adds, 2);
	assert_int_equal(a.last_provider, 3);
	assert_int_equal(t.count, 1);
	targets_clear(&t);
	assert_int_equal(a.dels, 1);
}

static void one_key_per_port_and_v6(void **state)
{
	struct targets t;
	struct applied a = { 0 };
	uint8_t ip6[16] = { 0xfd, 0, 2, 1, [15] = 2 };
	char buf[64];

	targets_init(&t, two_ports, 2, 0, 100, record, &a);
	assert_int_equal(targets_learn(&t, AF_INET6, ip6, 2, 60, "x", TARGET_SRC_DNS, 0), 1);
	assert_int_equal(a.adds, 2);
	assert_int_equal(a.last.port, 8443);
	assert_memory_equal(a.last.addr, ip6, 16);
	assert_string_equal(addr_format(a.last.addr, buf, sizeof(buf)), "fd00:201::2");
	/* Reconfigure to one port: both old keys removed, one new key installed. */
	targets_reconfigure(&t, port443, 1, 0);
	assert_int_equal(a.dels, 2);
	assert_int_equal(a.adds, 3);
	assert_int_equal(a.last.port, 443);
	targets_clear(&t);
}

static uint16_t only_openai(const char *name, void *ctx)
{
	return strcmp(name, "api.openai.com") == 0 ? 7 : 0;
}

static void rebind_after_reload(void **state)
{
	struct targets t;
	struct applied a = { 0 };
	uint8_t ip1[4] = { 1, 1, 1, 1 }, ip2[4] = { 2, 2, 2, 2 }, m[16];

	targets_init(&t, port443, 1, 0, 100, record, &a);
	targets_learn(&t, AF_INET, ip1, 1, 60, "api.openai.com", TARGET_SRC_DNS, 0);
	targets_learn(&t, AF_INET, ip2, 2, 60, "api.mistral.ai", TARGET_SRC_DNS, 0);
	targets_rebind(&t, only_openai, NULL);
	assert_int_equal(t.count, 1);
	addr_to_mapped(AF_INET, ip1, m);
	assert_int_equal(targets_lookup(&t, m)->provider_id, 7);
	addr_to_mapped(AF_INET, ip2, m);
	assert_null(targets_lookup(&t, m));
	targets_clear(&t);
}

static void capacity_and_bad_input(void **state)
{
	struct targets t;
	struct applied a = { .fail = 1 };
	uint8_t ip[4] = { 9, 9, 9, 0 };
	int i;

	targets_init(&t, port443, 1, 0, 3, record, &a);
	for (i = 0; i < 3; i++) {
		ip[3] = i;
		assert_int_equal(targets_learn(&t, AF_INET, ip, 1, 60, "n", TARGET_SRC_DNS, 0), 1);
	}
	ip[3] = 9;
	assert_int_equal(targets_learn(&t, AF_INET, ip, 1, 60, "n", TARGET_SRC_DNS, 0), -ENOSPC);
	assert_int_equal(t.apply_errors, 3); /* map refusals are counted, never silent */
	assert_int_equal(targets_learn(&t, AF_UNIX, ip, 1, 60, "n", TARGET_SRC_DNS, 0), -EINVAL);
	assert_int_equal(targets_learn(&t, AF_INET, ip, 0, 60, "n", TARGET_SRC_DNS, 0), -EINVAL);
	targets_clear(&t);
	assert_int_equal(t.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(learn_refresh_expire),
		cmocka_unit_test(shared_address_changes_provider),
		cmocka_unit_test(one_key_per_port_and_v6),
		cmocka_unit_test(rebind_after_reload),
		cmocka_unit_test(capacity_and_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
