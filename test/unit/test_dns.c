/* test_dns: unit tests for dns_parse_response(), dns_build_query() and dns_udp_payload() on
 * answers captured from dnsmasq and on messages built here to hit compression and chain cases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

/* Captured from dnsmasq 2.90 on 127.0.0.1:53 / [::1]:53, started with
 *   --local-ttl=300 --host-record=api.openai.com,10.201.0.2,fd00:201::2
 *   --cname=x.openai.azure.com,api.openai.com
 * real_a / real_aaaa: api.openai.com A / AAAA (answer owner compressed to the question);
 * real_refused: nonexistent.example A, REFUSED (no upstream);
 * real_cname_ip4: the whole IPv4 packet (from lo) answering x.openai.azure.com A:
 *   CNAME api.openai.com, then A with its owner compressed to the CNAME target;
 * real_cname_ip6: the whole IPv6 packet answering X.OpenAI.Azure.com AAAA (case as asked). */
static const uint8_t real_a[] = {
	0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x03, 0x61, 0x70, 0x69, 0x06, 0x6f, 0x70, 0x65, 0x6e, 0x61, 0x69, 0x03,
	0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x01,
	0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0x0a, 0xc9, 0x00, 0x02,
};

static const uint8_t real_aaaa[] = {
	0x12, 0x35, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x03, 0x61, 0x70,
	0x69, 0x06, 0x6f, 0x70, 0x65, 0x6e, 0x61, 0x69, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x1c,
	0x00, 0x01, 0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x10, 0xfd,
	0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
};

static const uint8_t real_refused[] = {
	0x12, 0x38, 0x81, 0x85, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
	0x6e, 0x6f, 0x6e, 0x65, 0x78, 0x69, 0x73, 0x74, 0x65, 0x6e, 0x74, 0x07, 0x65,
	0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x00, 0x00, 0x01, 0x00, 0x01,
};

static const uint8_t real_cname_ip4[] = {
	0x45, 0x00, 0x00, 0x6c, 0x90, 0xc6, 0x40, 0x00, 0x40, 0x11, 0xab, 0xb8, 0x7f, 0x00,
	0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x35, 0xe7, 0xe1, 0x00, 0x58, 0xfe, 0x6b,
	0x12, 0x36, 0x85, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x78,
	0x06, 0x6f, 0x70, 0x65, 0x6e, 0x61, 0x69, 0x05, 0x61, 0x7a, 0x75, 0x72, 0x65, 0x03,
	0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01,
	0x00, 0x00, 0x01, 0x2c, 0x00, 0x10, 0x03, 0x61, 0x70, 0x69, 0x06, 0x6f, 0x70, 0x65,
	0x6e, 0x61, 0x69, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0xc0, 0x30, 0x00, 0x01, 0x00, 0x01,
	0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0x0a, 0xc9, 0x00, 0x02,
};

static const uint8_t real_cname_ip6[] = {
	0x60, 0x02, 0xbb, 0x62, 0x00, 0x64, 0x11, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x35,
	0xdc, 0x0b, 0x00, 0x64, 0x00, 0x77, 0x12, 0x37, 0x85, 0x80, 0x00, 0x01, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x58, 0x06, 0x4f, 0x70, 0x65, 0x6e, 0x41, 0x49, 0x05,
	0x41, 0x7a, 0x75, 0x72, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x1c, 0x00, 0x01,
	0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x10, 0x03, 0x61,
	0x70, 0x69, 0x06, 0x6f, 0x70, 0x65, 0x6e, 0x61, 0x69, 0x03, 0x63, 0x6f, 0x6d, 0x00,
	0xc0, 0x30, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x10, 0xfd, 0x00,
	0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
};

/* A small DNS message builder for crafted responses. */
struct mb {
	uint8_t b[4096];
	size_t n;
};

static void mb_u8(struct mb *m, unsigned v)
{
	assert_true(m->n < sizeof(m->b));
	m->b[m->n++] = (uint8_t)v;
}

static void mb_u16(struct mb *m, unsigned v)
{
	mb_u8(m, v >> 8);
	mb_u8(m, v & 0xff);
}

static void mb_u32(struct mb *m, uint32_t v)
{
	mb_u16(m, v >> 16);
	mb_u16(m, v & 0xffff);
}

static void mb_bytes(struct mb *m, const void *p, size_t n)
{
	assert_true(n <= sizeof(m->b) - m->n);
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void mb_hdr(struct mb *m, unsigned id, unsigned flags, unsigned qd, unsigned an)
{
	m->n = 0;
	mb_u16(m, id);
	mb_u16(m, flags);
	mb_u16(m, qd);
	mb_u16(m, an);
	mb_u16(m, 0);
	mb_u16(m, 0);
}

/* mb_labels - write the labels of dotted <name> without a terminator (follow with mb_end or
 * mb_ptr). Returns the offset the name starts at, for later pointers. */
static size_t mb_labels(struct mb *m, const char *name)
{
	size_t at = m->n;

	while (*name) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);

		mb_u8(m, (unsigned)n);
		mb_bytes(m, name, n);
		name += n;
		if (*name == '.')
			name++;
	}
	return at;
}

static void mb_end(struct mb *m)
{
	mb_u8(m, 0);
}

static void mb_ptr(struct mb *m, size_t to)
{
	mb_u16(m, 0xc000 | (unsigned)to);
}

static size_t mb_name(struct mb *m, const char *name)
{
	size_t at = mb_labels(m, name);

	mb_end(m);
	return at;
}

/* mb_rr_tail - type, class, ttl, then rdata of <len> bytes at <rd>. */
static void mb_rr_tail(struct mb *m, unsigned type, unsigned class, uint32_t ttl, const void *rd,
		       size_t len)
{
	mb_u16(m, type);
	mb_u16(m, class);
	mb_u32(m, ttl);
	mb_u16(m, (unsigned)len);
	mb_bytes(m, rd, len);
}

static const uint8_t ip_1111[4] = { 1, 1, 1, 1 };
static const uint8_t ip_2222[4] = { 2, 2, 2, 2 };
static const uint8_t ip_3333[4] = { 3, 3, 3, 3 };

static struct mb *mb_new(void)
{
	struct mb *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	return m;
}

/* parse_exact - parse from an allocation of exactly <len> bytes so ASan sees any overread. */
static int parse_exact(const uint8_t *msg, size_t len, struct dns_answer *a)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, msg, len);
	r = dns_parse_response(copy, len, a);
	free(copy);
	return r;
}

static void assert_v4(const struct dns_addr *a, const char *text, uint32_t ttl)
{
	uint8_t want[4];

	assert_int_equal(inet_pton(AF_INET, text, want), 1);
	assert_int_equal(a->family, AF_INET);
	assert_memory_equal(a->addr, want, 4);
	assert_int_equal(a->ttl, ttl);
}

static void assert_v6(const struct dns_addr *a, const char *text, uint32_t ttl)
{
	uint8_t want[16];

	assert_int_equal(inet_pton(AF_INET6, text, want), 1);
	assert_int_equal(a->family, AF_INET6);
	assert_memory_equal(a->addr, want, 16);
	assert_int_equal(a->ttl, ttl);
}

/* Every proper prefix of a response that carries answers is truncated, hence -EBADMSG. */
static void assert_prefixes_badmsg(const uint8_t *msg, size_t len)
{
	struct dns_answer a;

	for (size_t n = 0; n < len; n++) {
		int r = parse_exact(msg, n, &a);

		if (r != -EBADMSG)
			fail_msg("prefix %zu/%zu gave %d", n, len, r);
	}
}

static void test_real_a_aaaa(void **state)
{
	struct dns_answer a;

	assert_int_equal(parse_exact(real_a, sizeof(real_a), &a), 0);
	assert_int_equal(a.id, 0x1234);
	assert_int_equal(a.rcode, 0);
	assert_int_equal(a.qtype, DNS_TYPE_A);
	assert_string_equal(a.qname, "api.openai.com");
	assert_int_equal(a.naddrs, 1);
	assert_v4(&a.addrs[0], "10.201.0.2", 300);
	assert_prefixes_badmsg(real_a, sizeof(real_a));

	assert_int_equal(parse_exact(real_aaaa, sizeof(real_aaaa), &a), 0);
	assert_int_equal(a.qtype, DNS_TYPE_AAAA);
	assert_string_equal(a.qname, "api.openai.com");
	assert_int_equal(a.naddrs, 1);
	assert_v6(&a.addrs[0], "fd00:201::2", 300);
	assert_prefixes_badmsg(real_aaaa, sizeof(real_aaaa));
}

static void test_real_refused(void **state)
{
	struct dns_answer a;

	assert_int_equal(parse_exact(real_refused, sizeof(real_refused), &a), 0);
	assert_int_equal(a.rcode, 5);
	assert_string_equal(a.qname, "nonexistent.example");
	assert_int_equal(a.naddrs, 0);
}

/* The captured packets go through dns_udp_payload first, as NFQUEUE would hand them over. */
static void test_real_cname_packets(void **state)
{
	const uint8_t *p;
	size_t plen;
	struct dns_answer a;

	assert_int_equal(dns_udp_payload(real_cname_ip4, sizeof(real_cname_ip4), &p, &plen), 0);
	assert_ptr_equal(p, real_cname_ip4 + 28);
	assert_int_equal(plen, sizeof(real_cname_ip4) - 28);
	assert_int_equal(parse_exact(p, plen, &a), 0);
	assert_int_equal(a.id, 0x1236);
	assert_string_equal(a.qname, "x.openai.azure.com");
	assert_int_equal(a.naddrs, 1);
	assert_v4(&a.addrs[0], "10.201.0.2", 300);
	assert_prefixes_badmsg(p, plen);

	assert_int_equal(dns_udp_payload(real_cname_ip6, sizeof(real_cname_ip6), &p, &plen), 0);
	assert_ptr_equal(p, real_cname_ip6 + 48);
	assert_int_equal(plen, sizeof(real_cname_ip6) - 48);
	assert_int_equal(parse_exact(p, plen, &a), 0);
	assert_string_equal(a.qname, "x.openai.azure.com");
	assert_int_equal(a.qtype, DNS_TYPE_AAAA);
	assert_int_equal(a.naddrs, 1);
	assert_v6(&a.addrs[0], "fd00:201::2", 300);
}

/* Only the question's name and names reached from it by CNAME contribute addresses. */
static void test_cname_chain(void **state)
{
	static const uint8_t txt[] = { 3, 'a', 'b', 'c' };
	struct mb *m = mb_new();
	struct dns_answer a;
	size_t q, b_at, c_at, z_at;
	uint8_t rd[64];
	struct mb tmp;

	mb_hdr(m, 7, 0x8180, 1, 9);
	q = mb_name(m, "Www.Example.com");
	mb_u16(m, DNS_TYPE_A);
	mb_u16(m, 1);
	/* www.example.com CNAME b.cdn.example.net */
	mb_ptr(m, q);
	mb_u16(m, DNS_TYPE_CNAME);
	mb_u16(m, 1);
	mb_u32(m, 60);
	mb_u16(m, 19);
	b_at = mb_name(m, "b.cdn.example.net");
	/* unrelated.example.com A 1.1.1.1 (owner shares the question's suffix) */
	mb_labels(m, "unrelated");
	mb_ptr(m, q + 4);
	mb_rr_tail(m, DNS_TYPE_A, 1, 60, ip_1111, 4);
	/* b.cdn.example.net CNAME c.cdn.example.net, target compressed onto b's suffix */
	mb_ptr(m, b_at);
	mb_u16(m, DNS_TYPE_CNAME);
	mb_u16(m, 1);
	mb_u32(m, 60);
	mb_u16(m, 4);
	c_at = m->n;
	mb_labels(m, "c");
	mb_ptr(m, b_at + 2);
	/* c.cdn.example.net A 2.2.2.2 */
	mb_ptr(m, c_at);
	mb_rr_tail(m, DNS_TYPE_A, 1, 30, ip_2222, 4);
	/* C.CDN.EXAMPLE.NET AAAA 2001:db8::2 (owner in upper case, uncompressed) */
	mb_name(m, "C.CDN.EXAMPLE.NET");
	memset(rd, 0, 16);
	rd[0] = 0x20, rd[1] = 0x01, rd[2] = 0x0d, rd[3] = 0xb8, rd[15] = 2;
	mb_rr_tail(m, DNS_TYPE_AAAA, 1, 20, rd, 16);
	/* c.cdn.example.net A in class CH: ignored */
	mb_ptr(m, c_at);
	mb_rr_tail(m, DNS_TYPE_A, 3, 60, ip_1111, 4);
	/* b.cdn.example.net TXT: ignored */
	mb_ptr(m, b_at);
	mb_rr_tail(m, 16, 1, 60, txt, sizeof(txt));
	/* unrelated.example.com CNAME z.example.org, then z A 1.1.1.1: not on our chain */
	mb_labels(m, "unrelated");
	mb_ptr(m, q + 4);
	tmp.n = 0;
	mb_name(&tmp, "z.example.org");
	z_at = m->n + 10;
	mb_rr_tail(m, DNS_TYPE_CNAME, 1, 60, tmp.b, tmp.n);
	mb_ptr(m, z_at);
	mb_rr_tail(m, DNS_TYPE_A, 1, 60, ip_1111, 4);

	assert_int_equal(parse_exact(m->b, m->n, &a), 0);
	assert_string_equal(a.qname, "www.example.com");
	assert_int_equal(a.naddrs, 2);
	assert_v4(&a.addrs[0], "2.2.2.2", 30);
	assert_v6(&a.addrs[1], "2001:db8::2", 20);
	assert_prefixes_badmsg(m->b, m->n);

	/* Add b.cdn.example.net A 3.3.3.3: an intermediate chain name counts too. */
	m->b[7] = 10;
	mb_ptr(m, b_at);
	mb_rr_tail(m, DNS_TYPE_A, 1, 10, ip_3333, 4);
	assert_int_equal(parse_exact(m->b, m->n, &a), 0);
	assert_int_equal(a.naddrs, 3);
	assert_v4(&a.addrs[2], "3.3.3.3", 10);
	free(m);
}

/* Answers are read in order: a target's address listed before the CNAME that leads to it is not
 * taken, and a CNAME cycle simply ends the chain. */
static void test_cname_order_and_cycle(void **state)
{
	struct mb *m = mb_new(), tmp;
	struct dns_answer a;
	size_t q, t_at;

	mb_hdr(m, 1, 0x8180, 1, 4);
	q = mb_name(m, "a.example");
	mb_u16(m, DNS_TYPE_A);
	mb_u16(m, 1);
	t_at = mb_name(m, "t.example");
	mb_rr_tail(m, DNS_TYPE_A, 1, 5, ip_1111, 4);
	mb_ptr(m, q);
	tmp.n = 0;
	mb_ptr(&tmp, t_at);
	mb_rr_tail(m, DNS_TYPE_CNAME, 1, 5, tmp.b, tmp.n);
	mb_ptr(m, t_at);
	tmp.n = 0;
	mb_ptr(&tmp, q);
	mb_rr_tail(m, DNS_TYPE_CNAME, 1, 5, tmp.b, tmp.n);
	mb_ptr(m, q);
	mb_rr_tail(m, DNS_TYPE_A, 1, 5, ip_2222, 4);
	assert_int_equal(parse_exact(m->b, m->n, &a), 0);
	assert_int_equal(a.naddrs, 1);
	assert_v4(&a.addrs[0], "2.2.2.2", 5);
	free(m);
}

static void test_addr_limit(void **state)
{
	struct mb *m = mb_new();
	struct dns_answer a;
	size_t q;

	mb_hdr(m, 1, 0x8180, 1, DNS_MAX_ADDRS + 8);
	q = mb_name(m, "many.example");
	mb_u16(m, DNS_TYPE_A);
	mb_u16(m, 1);
	for (int i = 0; i < DNS_MAX_ADDRS + 8; i++) {
		uint8_t ip[4] = { 10, 0, 0, (uint8_t)i };

		mb_ptr(m, q);
		mb_rr_tail(m, DNS_TYPE_A, 1, 1, ip, 4);
	}
	assert_int_equal(parse_exact(m->b, m->n, &a), 0);
	assert_int_equal(a.naddrs, DNS_MAX_ADDRS);
	assert_v4(&a.addrs[DNS_MAX_ADDRS - 1], "10.0.0.31", 1);
	free(m);
}

static void test_pointer_abuse(void **state)
{
	struct mb *m = mb_new();
	struct dns_answer a;
	size_t q;

	/* Question name that points at itself. */
	mb_hdr(m, 1, 0x8180, 1, 0);
	mb_ptr(m, 12);
	mb_u16(m, 1);
	mb_u16(m, 1);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	/* Answer owner pointing at itself, and two pointers pointing at each other. */
	mb_hdr(m, 1, 0x8180, 1, 1);
	mb_name(m, "a.example");
	mb_u16(m, 1);
	mb_u16(m, 1);
	mb_ptr(m, m->n);
	mb_rr_tail(m, DNS_TYPE_A, 1, 1, ip_1111, 4);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	mb_hdr(m, 1, 0x8180, 1, 1);
	q = mb_labels(m, "a");
	mb_ptr(m, q + 4); /* forward, onto the next pointer */
	mb_ptr(m, q);	  /* back to the start: a loop a -> a -> ... */
	mb_u16(m, 1);
	mb_u16(m, 1);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	/* A label run that ends in a pointer back to its own start. */
	mb_hdr(m, 1, 0x8180, 1, 1);
	mb_name(m, "a.example");
	mb_u16(m, 1);
	mb_u16(m, 1);
	q = mb_labels(m, "x");
	mb_ptr(m, q);
	mb_rr_tail(m, DNS_TYPE_A, 1, 1, ip_1111, 4);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	/* Pointer into the header, and pointer beyond the message. */
	mb_hdr(m, 1, 0x8180, 1, 0);
	mb_ptr(m, 2);
	mb_u16(m, 1);
	mb_u16(m, 1);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);
	mb_hdr(m, 1, 0x8180, 1, 1);
	mb_name(m, "a.example");
	mb_u16(m, 1);
	mb_u16(m, 1);
	mb_ptr(m, 0x3fff);
	mb_rr_tail(m, DNS_TYPE_A, 1, 1, ip_1111, 4);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	/* Half a pointer at the very end. */
	mb_hdr(m, 1, 0x8180, 1, 0);
	mb_u8(m, 0xc0);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);
	free(m);
}

static void test_name_limits(void **state)
{
	char l63[64], name[300];
	struct mb *m = mb_new();
	struct dns_answer a;
	size_t at;

	memset(l63, 'x', 63);
	l63[63] = '\0';
	/* 3 x 63 + 61: 255 octets on the wire, 253 characters. */
	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	mb_hdr(m, 1, 0x8180, 1, 0);
	mb_name(m, name);
	mb_u16(m, 1);
	mb_u16(m, 1);
	assert_int_equal(parse_exact(m->b, m->n, &a), 0);
	assert_int_equal(strlen(a.qname), 253);

	snprintf(name, sizeof(name), "%s.%s.%s.%.62s", l63, l63, l63, l63);
	mb_hdr(m, 1, 0x8180, 1, 0);
	mb_name(m, name);
	mb_u16(m, 1);
	mb_u16(m, 1);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	/* Too long only once the compressed suffix is added. */
	mb_hdr(m, 1, 0x8180, 1, 1);
	snprintf(name, sizeof(name), "%s.%s", l63, l63);
	at = mb_name(m, name);
	mb_u16(m, 1);
	mb_u16(m, 1);
	snprintf(name, sizeof(name), "%s.%s", l63, l63);
	mb_labels(m, name);
	mb_ptr(m, at);
	mb_rr_tail(m, DNS_TYPE_A, 1, 1, ip_1111, 4);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	/* The root name. */
	mb_hdr(m, 1, 0x8180, 1, 0);
	mb_end(m);
	mb_u16(m, 2);
	mb_u16(m, 1);
	assert_int_equal(parse_exact(m->b, m->n, &a), 0);
	assert_string_equal(a.qname, "");
	assert_int_equal(a.qtype, 2);
	free(m);
}

static void test_bad_labels(void **state)
{
	static const uint8_t dot[] = { 0x12, 0x34, 0x81, 0x80, 0,   1, 0, 0, 0, 0, 0,
				       0,    3,	   'a',	 '.',  'b', 0, 0, 1, 0, 1 };
	static const uint8_t nul[] = { 0x12, 0x34, 0x81, 0x80, 0,   1, 0, 0, 0, 0, 0,
				       0,    3,	   'a',	 0,    'b', 0, 0, 1, 0, 1 };
	static const uint8_t ext[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0,
				       0,    0,	   0x41, 'a',  0, 0, 1, 0, 1 };
	static const uint8_t ok[] = { 0x12, 0x34, 0x81, 0x80, 0,   1, 0, 0, 0, 0, 0,
				      0,    3,	  'A',	'_',  'b', 0, 0, 1, 0, 1 };
	struct dns_answer a;

	assert_int_equal(parse_exact(dot, sizeof(dot), &a), -EBADMSG);
	assert_int_equal(parse_exact(nul, sizeof(nul), &a), -EBADMSG);
	assert_int_equal(parse_exact(ext, sizeof(ext), &a), -EBADMSG);
	assert_int_equal(parse_exact(ok, sizeof(ok), &a), 0);
	assert_string_equal(a.qname, "a_b");
}

static void test_bad_records(void **state)
{
	struct mb *m = mb_new();
	struct dns_answer a;
	size_t q, rdlen_at;

	/* A with a 5-byte rdata for the question's name. */
	mb_hdr(m, 1, 0x8180, 1, 1);
	q = mb_name(m, "a.example");
	mb_u16(m, 1);
	mb_u16(m, 1);
	mb_ptr(m, q);
	mb_rr_tail(m, DNS_TYPE_A, 1, 1, "\1\2\3\4\5", 5);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);

	/* CNAME whose rdlength disagrees with the name inside it. */
	mb_hdr(m, 1, 0x8180, 1, 1);
	q = mb_name(m, "a.example");
	mb_u16(m, 1);
	mb_u16(m, 1);
	mb_ptr(m, q);
	mb_u16(m, DNS_TYPE_CNAME);
	mb_u16(m, 1);
	mb_u32(m, 1);
	rdlen_at = m->n;
	mb_u16(m, 0);
	mb_name(m, "b.example");
	m->b[rdlen_at + 1] = 12; /* one more than the 11 the name uses */
	mb_u8(m, 0);
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);
	m->b[rdlen_at + 1] = 11;
	m->b[7] = 1;
	m->n--;
	assert_int_equal(parse_exact(m->b, m->n, &a), 0);

	/* More answers announced than present. */
	m->b[7] = 2;
	assert_int_equal(parse_exact(m->b, m->n, &a), -EBADMSG);
	free(m);
}

static void test_not_response(void **state)
{
	uint8_t q[64];
	struct dns_answer a;
	int n = dns_build_query(q, sizeof(q), 9, "api.openai.com", DNS_TYPE_A);

	assert_true(n > 0);
	assert_int_equal(parse_exact(q, (size_t)n, &a), -ENOMSG);
	q[2] |= 0x80;
	q[5] = 0; /* qdcount 0 */
	assert_int_equal(parse_exact(q, (size_t)n, &a), -ENOMSG);
	assert_int_equal(parse_exact(q, 11, &a), -EBADMSG);
	assert_int_equal(dns_parse_response(NULL, 0, &a), -EBADMSG);
}

static void test_build_query(void **state)
{
	static const uint8_t want[] = { 0xbe, 0xef, 0x01, 0x00, 0,   1, 0,   0,	  0,   0,   0,
					0,    3,    'a',  'p',	'i', 6, 'o', 'p', 'e', 'n', 'a',
					'i',  3,    'c',  'o',	'm', 0, 0,   28,  0,   1 };
	uint8_t buf[512];
	struct dns_answer a;
	int n;

	n = dns_build_query(buf, sizeof(buf), 0xbeef, "api.openai.com", DNS_TYPE_AAAA);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	n = dns_build_query(buf, sizeof(buf), 0xbeef, "api.openai.com.", DNS_TYPE_AAAA);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* Exactly enough room, and one byte short. */
	assert_int_equal(dns_build_query(buf, sizeof(want), 1, "api.openai.com", 28), sizeof(want));
	assert_int_equal(dns_build_query(buf, sizeof(want) - 1, 1, "api.openai.com", 28), -ENOSPC);

	/* Round trip: mark it a response and read the question back (lowercased). */
	n = dns_build_query(buf, sizeof(buf), 77, "Api.Anthropic.COM", DNS_TYPE_A);
	assert_true(n > 0);
	buf[2] |= 0x80;
	assert_int_equal(parse_exact(buf, (size_t)n, &a), 0);
	assert_int_equal(a.id, 77);
	assert_int_equal(a.qtype, DNS_TYPE_A);
	assert_string_equal(a.qname, "api.anthropic.com");
	assert_int_equal(a.naddrs, 0);
}

static void test_build_query_bad_names(void **state)
{
	char l63[64], l64[65], name[300];
	uint8_t buf[512];

	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, NULL, 1), -EINVAL);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, "", 1), -EINVAL);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, ".", 1), -EINVAL);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, "a..b", 1), -EINVAL);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, ".a", 1), -EINVAL);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, "a.b..", 1), -EINVAL);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, l64, 1), -EINVAL);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, l63, 1), 12 + 65 + 4);
	/* A bad name is reported as such even when the buffer is also too small. */
	assert_int_equal(dns_build_query(buf, 4, 1, "a..b", 1), -EINVAL);

	snprintf(name, sizeof(name), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, name, 1), 12 + 255 + 4);
	strcat(name, ".");
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, name, 1), 12 + 255 + 4);
	snprintf(name, sizeof(name), "%s.%s.%s.%.62s", l63, l63, l63, l63);
	assert_int_equal(dns_build_query(buf, sizeof(buf), 1, name, 1), -EINVAL);
}

/* Copy the captured IPv4 packet so fields can be changed one at a time. */
static size_t ip4_copy(uint8_t *pkt)
{
	memcpy(pkt, real_cname_ip4, sizeof(real_cname_ip4));
	return sizeof(real_cname_ip4);
}

static void test_udp_payload_ipv4(void **state)
{
	uint8_t pkt[256], opt[256];
	const uint8_t *p;
	size_t plen, n = ip4_copy(pkt);

	/* Padding after the IP total length is not payload. */
	memset(pkt + n, 0xee, 6);
	assert_int_equal(dns_udp_payload(pkt, n + 6, &p, &plen), 0);
	assert_int_equal(plen, n - 28);

	/* Every truncation is refused. */
	for (size_t k = 0; k < n; k++) {
		uint8_t *copy = malloc(k ? k : 1);

		assert_non_null(copy);
		memcpy(copy, pkt, k);
		assert_int_equal(dns_udp_payload(copy, k, &p, &plen), -EINVAL);
		free(copy);
	}

	/* DF is fine; MF or a fragment offset is not. */
	pkt[6] = 0x40;
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), 0);
	pkt[6] = 0x20;
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	pkt[6] = 0x00, pkt[7] = 0x01;
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);

	n = ip4_copy(pkt);
	pkt[9] = 6; /* TCP */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	n = ip4_copy(pkt);
	pkt[20] = 0x14, pkt[21] = 0xe9; /* source port 5353 */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	n = ip4_copy(pkt);
	pkt[0] = 0x44; /* IHL 4 */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	n = ip4_copy(pkt);
	pkt[0] = 0x55; /* version 5 */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	n = ip4_copy(pkt);
	pkt[3]++; /* total length past the buffer */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	n = ip4_copy(pkt);
	pkt[25]++; /* UDP length past the IP payload */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	n = ip4_copy(pkt);
	pkt[24] = 0, pkt[25] = 7; /* UDP length below its own header */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);

	/* With 4 bytes of IP options (IHL 6) the payload moves along. */
	n = ip4_copy(pkt);
	memcpy(opt, pkt, 20);
	opt[0] = 0x46;
	opt[3] += 4;
	memset(opt + 20, 1, 4); /* NOP options */
	memcpy(opt + 24, pkt + 20, n - 20);
	assert_int_equal(dns_udp_payload(opt, n + 4, &p, &plen), 0);
	assert_ptr_equal(p, opt + 32);
	assert_int_equal(plen, n - 28);
	assert_memory_equal(p, real_cname_ip4 + 28, plen);

	assert_int_equal(dns_udp_payload(NULL, 0, &p, &plen), -EINVAL);
}

static void test_udp_payload_ipv6(void **state)
{
	uint8_t pkt[256];
	const uint8_t *p;
	size_t plen, n = sizeof(real_cname_ip6);

	memcpy(pkt, real_cname_ip6, n);
	for (size_t k = 0; k < n; k++) {
		uint8_t *copy = malloc(k ? k : 1);

		assert_non_null(copy);
		memcpy(copy, pkt, k);
		assert_int_equal(dns_udp_payload(copy, k, &p, &plen), -EINVAL);
		free(copy);
	}
	pkt[6] = 0; /* hop-by-hop options header: not followed */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	memcpy(pkt, real_cname_ip6, n);
	pkt[40] = 0x14, pkt[41] = 0xe9; /* source port 5353 */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	memcpy(pkt, real_cname_ip6, n);
	pkt[5]++; /* payload length past the buffer */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	memcpy(pkt, real_cname_ip6, n);
	pkt[4] = 0, pkt[5] = 0; /* jumbogram marker */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
	memcpy(pkt, real_cname_ip6, n);
	pkt[45]++; /* UDP length past the IP payload */
	assert_int_equal(dns_udp_payload(pkt, n, &p, &plen), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_a_aaaa),
		cmocka_unit_test(test_real_refused),
		cmocka_unit_test(test_real_cname_packets),
		cmocka_unit_test(test_cname_chain),
		cmocka_unit_test(test_cname_order_and_cycle),
		cmocka_unit_test(test_addr_limit),
		cmocka_unit_test(test_pointer_abuse),
		cmocka_unit_test(test_name_limits),
		cmocka_unit_test(test_bad_labels),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_not_response),
		cmocka_unit_test(test_build_query),
		cmocka_unit_test(test_build_query_bad_names),
		cmocka_unit_test(test_udp_payload_ipv4),
		cmocka_unit_test(test_udp_payload_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
