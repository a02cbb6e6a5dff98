/* test_bpf_quic_guard: the cgroup_skb egress program run in the kernel on crafted packets with
 * BPF_PROG_TEST_RUN — UDP to a learned target is dropped, everything else passes. Needs root
 * (it loads the real object); sock_addr/sockops/sockopt hooks are covered by test/integ. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <string.h>

#include "redirect.skel.h"
#include "targets.h"

static struct redirect *skel;

static int setup(void **state)
{
	skel = redirect__open_and_load();
	return skel ? 0 : -1;
}

static int teardown(void **state)
{
	redirect__destroy(skel);
	return 0;
}

static void add_target(int family, const void *addr, uint16_t port)
{
	struct mlx_target_key k = { .port = port };
	struct mlx_target_val v = { .provider_id = 1 };

	addr_to_mapped(family, addr, k.addr);
	assert_int_equal(bpf_map__update_elem(skel->maps.targets, &k, sizeof(k), &v, sizeof(v), 0), 0);
}

/* Build eth + IPv4 + UDP/TCP-ish packet to <dst>:<dport>; returns its length. */
static size_t pkt4(uint8_t *buf, const char *dst, uint8_t proto, uint16_t dport, uint16_t frag)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);

	memset(buf, 0, 128);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	ip->frag_off = htons(frag);
	ip->tot_len = htons(sizeof(*ip) + sizeof(*udp) + 8);
	inet_pton(AF_INET, "10.201.0.1", &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	udp->source = htons(40000);
	udp->dest = htons(dport);
	udp->len = htons(sizeof(*udp) + 8);
	return sizeof(*eth) + sizeof(*ip) + sizeof(*udp) + 8;
}

static size_t pkt6(uint8_t *buf, const char *dst, uint8_t nexthdr, uint16_t dport)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip6 + 1);

	memset(buf, 0, 128);
	eth->h_proto = htons(ETH_P_IPV6);
	ip6->version = 6;
	ip6->nexthdr = nexthdr;
	ip6->hop_limit = 64;
	ip6->payload_len = htons(sizeof(*udp) + 8);
	inet_pton(AF_INET6, "fd00:201::1", &ip6->saddr);
	inet_pton(AF_INET6, dst, &ip6->daddr);
	udp->source = htons(40000);
	udp->dest = htons(dport);
	udp->len = htons(sizeof(*udp) + 8);
	return sizeof(*eth) + sizeof(*ip6) + sizeof(*udp) + 8;
}

/* Packet buffers start 2 bytes into a 4-aligned block, so the IP header after the 14-byte
 * Ethernet header is aligned as the kernel's would be. */
struct pktbuf {
	uint8_t pad[2];
	uint8_t b[128];
} __attribute__((aligned(4)));

static int run(uint8_t *pkt, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mlx_quic_guard), &o);

	assert_int_equal(rc, 0);
	return (int)o.retval;
}

static void udp_to_target_dropped(void **state)
{
	struct pktbuf pb;
	uint8_t *pkt = pb.b, a4[4], a6[16];

	inet_pton(AF_INET, "10.201.0.2", a4);
	inet_pton(AF_INET6, "fd00:201::2", a6);
	add_target(AF_INET, a4, 443);
	add_target(AF_INET6, a6, 443);

	assert_int_equal(run(pkt, pkt4(pkt, "10.201.0.2", IPPROTO_UDP, 443, 0)), 0);
	assert_int_equal(run(pkt, pkt6(pkt, "fd00:201::2", IPPROTO_UDP, 443)), 0);
}

static void everything_else_passes(void **state)
{
	struct pktbuf pb;
	uint8_t *pkt = pb.b;

	/* Same target, other port; other address; TCP; later fragment; v6 TCP. */
	assert_int_equal(run(pkt, pkt4(pkt, "10.201.0.2", IPPROTO_UDP, 53, 0)), 1);
	assert_int_equal(run(pkt, pkt4(pkt, "10.201.0.9", IPPROTO_UDP, 443, 0)), 1);
	assert_int_equal(run(pkt, pkt4(pkt, "10.201.0.2", IPPROTO_TCP, 443, 0)), 1);
	assert_int_equal(run(pkt, pkt4(pkt, "10.201.0.2", IPPROTO_UDP, 443, 100)), 1);
	assert_int_equal(run(pkt, pkt6(pkt, "fd00:201::2", IPPROTO_TCP, 443)), 1);
	assert_int_equal(run(pkt, pkt6(pkt, "fd00:201::9", IPPROTO_UDP, 443)), 1);
}

static void drops_are_counted(void **state)
{
	uint32_t key = MLX_STAT_QUIC_SKB;
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t vals[512] = { 0 }, sum = 0;
	struct pktbuf pb;
	uint8_t *pkt = pb.b;

	assert_true(ncpu > 0 && ncpu <= 512);
	run(pkt, pkt4(pkt, "10.201.0.2", IPPROTO_UDP, 443, 0));
	assert_int_equal(bpf_map__lookup_elem(skel->maps.stats, &key, sizeof(key), vals,
					      sizeof(uint64_t) * ncpu, 0), 0);
	for (i = 0; i < ncpu; i++)
		sum += vals[i];
	assert_true(sum >= 3); /* two drops above plus this one */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(udp_to_target_dropped),
		cmocka_unit_test(everything_else_passes),
		cmocka_unit_test(drops_are_counted),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
