/* fuzz_dns: libFuzzer driver for the dns module. The input is tried as an IP packet
 * (dns_udp_payload, then the payload as a response), as a bare response, and as a name that
 * must survive dns_build_query followed by dns_parse_response unchanged but for case. */
#include <stdlib.h>
#include <string.h>

#include "../../userspace/dns.c"

static void fuzz_dns_check_answer(const struct dns_answer *a)
{
	size_t n = strnlen(a->qname, sizeof(a->qname));

	if (n > 253 || a->naddrs > DNS_MAX_ADDRS)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((a->qname[i] >= 'A' && a->qname[i] <= 'Z') || a->qname[i] == '\0')
			abort();
	for (size_t i = 0; i < a->naddrs; i++)
		if (a->addrs[i].family != AF_INET && a->addrs[i].family != AF_INET6)
			abort();
}

static void fuzz_dns_parse(const uint8_t *msg, size_t len)
{
	struct dns_answer a;
	int r = dns_parse_response(msg, len, &a);

	if (r == 0)
		fuzz_dns_check_answer(&a);
	else if (r != -ENOMSG && r != -EBADMSG)
		abort();
}

/* Build a query for a name taken from the input, read it back as a response and compare. */
static void fuzz_dns_round_trip(const uint8_t *data, size_t size)
{
	char name[300], want[300];
	uint8_t buf[600];
	struct dns_answer a;
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	int len;

	memcpy(name, data, n);
	name[n] = '\0';
	len = dns_build_query(buf, sizeof(buf), 0x4242, name, DNS_TYPE_AAAA);
	if (len == -EINVAL)
		return;
	if (len < 12 + 2 + 4 || len > 12 + 255 + 4)
		abort();
	if (dns_build_query(buf, (size_t)len - 1, 1, name, DNS_TYPE_A) != -ENOSPC)
		abort();
	buf[2] |= 0x80;
	if (dns_parse_response(buf, (size_t)len, &a) != 0)
		abort();
	n = strlen(name);
	if (name[n - 1] == '.')
		n--;
	for (size_t i = 0; i < n; i++)
		want[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	want[n] = '\0';
	if (strcmp(a.qname, want) != 0 || a.id != 0x4242 || a.qtype != DNS_TYPE_AAAA ||
	    a.naddrs != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload;
	size_t plen;

	if (dns_udp_payload(data, size, &payload, &plen) == 0) {
		if (payload < data || plen > size || (size_t)(payload - data) > size - plen)
			abort();
		fuzz_dns_parse(payload, plen);
	}
	fuzz_dns_parse(data, size);
	fuzz_dns_round_trip(data, size);
	return 0;
}
