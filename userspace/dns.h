/* dns: decodes DNS responses (to learn provider addresses) and encodes the agent's own queries.
 * Owns nothing: all parsing is bounds-checked over the caller's buffer into the caller's struct. */
#ifndef MODELUX_DNS_H
#define MODELUX_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_ADDRS 32
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28

struct dns_addr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; 4 bytes used for AF_INET */
	uint32_t ttl;     /* seconds, as in the record */
};

struct dns_answer {
	uint16_t id;
	uint8_t rcode;
	uint16_t qtype;
	char qname[256]; /* question name, lowercased, no trailing dot */
	size_t naddrs;   /* A/AAAA records whose owner is qname or a CNAME reached from it */
	struct dns_addr addrs[DNS_MAX_ADDRS];
};

/* dns_parse_response - decode the DNS response <msg> of <len> bytes.
 * Returns 0, -ENOMSG when it is a query rather than a response or has no question,
 * or -EBADMSG when malformed (truncated, compression loop, bad label). */
int dns_parse_response(const uint8_t *msg, size_t len, struct dns_answer *out);

/* dns_build_query - encode a recursive query for <name>/<qtype> with <id> into <buf>.
 * Returns the message length, or -EINVAL (bad name) / -ENOSPC (buffer too small). */
int dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint16_t qtype);

/* dns_udp_payload - locate the UDP payload of an IPv4 or IPv6 packet <pkt> whose source port is 53
 * (as handed over by NFQUEUE, starting at the IP header). Returns 0 and sets <payload>/<plen>,
 * or -EINVAL when it is not such a packet. IPv6 extension headers are not followed. */
int dns_udp_payload(const uint8_t *pkt, size_t len, const uint8_t **payload, size_t *plen);

#endif
