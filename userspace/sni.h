/* sni: reads the TLS ClientHello a client sends first and extracts the server name and ALPN.
 * Owns nothing: parses the caller's buffer in place and fills the caller's struct. */
#ifndef MODELUX_SNI_H
#define MODELUX_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest ClientHello (all its records together) the agent is willing to buffer before deciding. */
#define SNI_MAX_HELLO_BYTES 16384

enum sni_result {
	SNI_OK = 0,        /* a complete ClientHello was parsed */
	SNI_NEED_MORE = 1, /* looks like TLS so far; read more bytes and call again */
	SNI_NOT_TLS = 2,   /* first bytes are not a TLS handshake record */
	SNI_MALFORMED = 3, /* TLS framing but a broken or oversized ClientHello */
};

struct sni_info {
	char server_name[256]; /* host_name from the SNI extension, lowercased; "" when absent */
	bool has_sni;
	char alpn[128];          /* offered ALPN ids joined by ',' ("h2,http/1.1"), truncated to fit */
	uint16_t record_version; /* version in the first record header */
	uint16_t hello_version;  /* legacy_version inside the ClientHello */
	bool offers_tls13;       /* supported_versions lists 0x0304 */
	size_t hello_bytes;      /* bytes of <buf> the ClientHello records occupy */
};

/* sni_parse - parse the ClientHello at the start of <buf> (<len> bytes received so far).
 * The hello may span several TLS records; <out> is only meaningful on SNI_OK. */
enum sni_result sni_parse(const uint8_t *buf, size_t len, struct sni_info *out);

const char *sni_result_str(enum sni_result r);

#endif
