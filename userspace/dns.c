/* dns: decodes DNS responses (to learn provider addresses) and encodes the agent's own queries.
 * Owns nothing: all parsing is bounds-checked over the caller's buffer into the caller's struct. */
#include "dns.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#define DNS_HDR_LEN 12
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_RD 0x0100
#define DNS_CLASS_IN 1
#define DNS_MAX_WIRE_NAME 255 /* RFC 1035 section 3.1, length octets and terminal zero included */
#define DNS_MAX_TEXT_NAME 253 /* the same limit in dotted form without the trailing dot */
#define DNS_MAX_LABEL 63
/* Names a CNAME chain may pass through. Real chains are 1-3 long (CDN aliases); a longer one
 * in a single answer is either hostile or not worth following further. */
#define DNS_MAX_CHAIN 8

#define DNS_IPPROTO_UDP 17
#define DNS_PORT 53

static uint16_t dns_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t dns_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* dns_read_name - decode the possibly compressed name at <*off> in <msg> (<len> bytes) into <name>
 * (lowercased, dotted, no trailing dot, "" for the root) and advance <*off> past it in the
 * original position. Returns 0 or -EBADMSG. */
static int dns_read_name(const uint8_t *msg, size_t len, size_t *off, char name[256])
{
	size_t pos = *off, seg_start = *off, out = 0, wire = 1; /* 1: the terminal zero */
	bool jumped = false;

	for (;;) {
		uint8_t c;

		if (pos >= len)
			return -EBADMSG;
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (len - pos < 2)
				return -EBADMSG;
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			/* Every jump must land strictly before the label run it came from. The
			 * targets then strictly decrease, so no pointer cycle can exist, and a
			 * compressor only ever points back at names it already wrote. */
			if (target < DNS_HDR_LEN || target >= seg_start)
				return -EBADMSG;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = seg_start = target;
			continue;
		}
		/* 0x40 and 0x80: extended and reserved label types, obsolete (RFC 6891). */
		if (c & 0xc0)
			return -EBADMSG;
		if (c == 0) {
			if (!jumped)
				*off = pos + 1;
			name[out] = '\0';
			return 0;
		}
		if (len - pos - 1 < c)
			return -EBADMSG;
		wire += 1 + c;
		if (wire > DNS_MAX_WIRE_NAME)
			return -EBADMSG;
		if (out)
			name[out++] = '.';
		for (size_t i = 0; i < c; i++) {
			uint8_t ch = msg[pos + 1 + i];

			/* A '.' inside a label would let one label read as several, e.g. a single
			 * label "api.openai.com" under an attacker's zone; NUL would cut the
			 * string. */
			if (ch == '.' || ch == '\0')
				return -EBADMSG;
			name[out++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
		}
		pos += 1 + c;
	}
}

struct dns_chain {
	char names[DNS_MAX_CHAIN][256];
	size_t n;
};

static bool dns_chain_has(const struct dns_chain *ch, const char *name)
{
	for (size_t i = 0; i < ch->n; i++)
		if (strcmp(ch->names[i], name) == 0)
			return true;
	return false;
}

static void dns_chain_add(struct dns_chain *ch, const char *name)
{
	if (ch->n < DNS_MAX_CHAIN && !dns_chain_has(ch, name))
		memcpy(ch->names[ch->n++], name, strlen(name) + 1);
}

/* dns_add_addr - record an A/AAAA rdata <rd> of <rdlen> bytes. A wrong rdata size is a broken
 * record, not merely an uninteresting one. */
static int dns_add_addr(struct dns_answer *out, uint16_t type, const uint8_t *rd, uint16_t rdlen,
			uint32_t ttl)
{
	size_t want = type == DNS_TYPE_A ? 4 : 16;
	struct dns_addr *a;

	if (rdlen != want)
		return -EBADMSG;
	if (out->naddrs == DNS_MAX_ADDRS)
		return 0;
	a = &out->addrs[out->naddrs++];
	a->family = type == DNS_TYPE_A ? AF_INET : AF_INET6;
	memcpy(a->addr, rd, want);
	a->ttl = ttl;
	return 0;
}

int dns_parse_response(const uint8_t *msg, size_t len, struct dns_answer *out)
{
	struct dns_chain chain;
	char owner[256], scratch[256];
	uint16_t flags, qdcount, ancount;
	size_t off = DNS_HDR_LEN;
	int err;

	memset(out, 0, sizeof(*out));
	if (len < DNS_HDR_LEN)
		return -EBADMSG;
	out->id = dns_be16(msg);
	flags = dns_be16(msg + 2);
	qdcount = dns_be16(msg + 4);
	ancount = dns_be16(msg + 6);
	if (!(flags & DNS_FLAG_QR) || qdcount == 0)
		return -ENOMSG;
	out->rcode = flags & 0x0f;

	for (uint16_t i = 0; i < qdcount; i++) {
		err = dns_read_name(msg, len, &off, i == 0 ? out->qname : scratch);
		if (err)
			return err;
		if (len - off < 4)
			return -EBADMSG;
		if (i == 0)
			out->qtype = dns_be16(msg + off);
		off += 4;
	}

	chain.n = 0;
	dns_chain_add(&chain, out->qname);
	/* One pass in message order: resolvers list a CNAME before the records of its target, so
	 * a target's addresses are only taken once the chain has reached it. */
	for (uint16_t i = 0; i < ancount; i++) {
		uint16_t type, class, rdlen;
		uint32_t ttl;
		const uint8_t *rd;

		err = dns_read_name(msg, len, &off, owner);
		if (err)
			return err;
		if (len - off < 10)
			return -EBADMSG;
		type = dns_be16(msg + off);
		class = dns_be16(msg + off + 2);
		ttl = dns_be32(msg + off + 4);
		rdlen = dns_be16(msg + off + 8);
		off += 10;
		if (len - off < rdlen)
			return -EBADMSG;
		rd = msg + off;

		if (class == DNS_CLASS_IN && dns_chain_has(&chain, owner)) {
			if (type == DNS_TYPE_A || type == DNS_TYPE_AAAA) {
				err = dns_add_addr(out, type, rd, rdlen, ttl);
				if (err)
					return err;
			} else if (type == DNS_TYPE_CNAME) {
				size_t roff = off;

				/* The target may point anywhere earlier in the message, so it is
				 * decoded against the whole message but must fill its rdata
				 * exactly. */
				err = dns_read_name(msg, len, &roff, scratch);
				if (err)
					return err;
				if (roff != off + rdlen)
					return -EBADMSG;
				dns_chain_add(&chain, scratch);
			}
		}
		off += rdlen;
	}
	return 0;
}

/* dns_check_name - validate <name> for encoding and return its length without a trailing dot
 * in <*text_len>. Returns 0 or -EINVAL. */
static int dns_check_name(const char *name, size_t *text_len)
{
	size_t n, label = 0;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_MAX_TEXT_NAME)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || name[i] == '.') {
			if (label == 0 || label > DNS_MAX_LABEL)
				return -EINVAL;
			label = 0;
		} else {
			label++;
		}
	}
	*text_len = n;
	return 0;
}

int dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
	size_t n, total, pos, label_at;
	int err;

	err = dns_check_name(name, &n);
	if (err)
		return err;
	/* Each dot becomes a length octet, plus the first length octet and the terminal zero. */
	total = DNS_HDR_LEN + n + 2 + 4;
	if (!buf || cap < total)
		return -ENOSPC;

	memset(buf, 0, DNS_HDR_LEN);
	dns_put16(buf, id);
	dns_put16(buf + 2, DNS_FLAG_RD);
	dns_put16(buf + 4, 1);

	pos = DNS_HDR_LEN;
	label_at = pos++;
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '.') {
			buf[label_at] = (uint8_t)(pos - label_at - 1);
			label_at = pos++;
		} else {
			buf[pos++] = (uint8_t)name[i];
		}
	}
	buf[label_at] = (uint8_t)(pos - label_at - 1);
	buf[pos++] = 0;
	dns_put16(buf + pos, qtype);
	dns_put16(buf + pos + 2, DNS_CLASS_IN);
	pos += 4;
	return (int)pos;
}

/* dns_udp - check the UDP header at <l4> (<l4len> bytes as bounded by the IP header). */
static int dns_udp(const uint8_t *l4, size_t l4len, const uint8_t **payload, size_t *plen)
{
	size_t ulen;

	if (l4len < 8 || dns_be16(l4) != DNS_PORT)
		return -EINVAL;
	ulen = dns_be16(l4 + 4);
	/* Shorter than the IP payload is tolerated (trailing bytes ignored, as the kernel does);
	 * longer would read bytes the packet does not carry. */
	if (ulen < 8 || ulen > l4len)
		return -EINVAL;
	*payload = l4 + 8;
	*plen = ulen - 8;
	return 0;
}

int dns_udp_payload(const uint8_t *pkt, size_t len, const uint8_t **payload, size_t *plen)
{
	if (!pkt || len < 1)
		return -EINVAL;
	switch (pkt[0] >> 4) {
	case 4: {
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4, total;

		if (len < 20 || ihl < 20)
			return -EINVAL;
		total = dns_be16(pkt + 2);
		/* total bounds the datagram: NFQUEUE may hand over link-layer padding after it. */
		if (total < ihl || total > len)
			return -EINVAL;
		/* Only a first fragment carries the UDP header, and even then the payload is
		 * incomplete; DNS over fragmented UDP is left to the resolver. */
		if (dns_be16(pkt + 6) & 0x3fff)
			return -EINVAL;
		if (pkt[9] != DNS_IPPROTO_UDP)
			return -EINVAL;
		return dns_udp(pkt + ihl, total - ihl, payload, plen);
	}
	case 6: {
		size_t plen6;

		if (len < 40 || pkt[6] != DNS_IPPROTO_UDP)
			return -EINVAL;
		plen6 = dns_be16(pkt + 4);
		if (plen6 > len - 40)
			return -EINVAL;
		return dns_udp(pkt + 40, plen6, payload, plen);
	}
	default:
		return -EINVAL;
	}
}
