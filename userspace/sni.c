/* sni: reads the TLS ClientHello a client sends first and extracts the server name and ALPN.
 * Owns nothing: parses the caller's buffer in place and fills the caller's struct. */
#include "sni.h"

#include <string.h>

#define SNI_REC_HDR 5
#define SNI_HS_HDR 4
#define SNI_CT_HANDSHAKE 22
#define SNI_HS_CLIENT_HELLO 1
/* TLSCiphertext allows 2^14 + 2048; a plaintext record should stay within 2^14, but any record
 * above this bound cannot be TLS at all, so it is rejected before we wait for its bytes. */
#define SNI_MAX_RECORD (16384 + 2048)

#define SNI_EXT_SERVER_NAME 0
#define SNI_EXT_ALPN 16
#define SNI_EXT_SUPPORTED_VERSIONS 43
#define SNI_NAME_HOST 0
#define SNI_TLS13 0x0304

/* A bounds-checked read cursor over the handshake body (in <buf> or joined from its records).
 * Every getter fails rather than read past <len>, so the parsers below never index directly. */
struct sni_cur {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static bool sni_get_u8(struct sni_cur *c, uint8_t *v)
{
	if (c->len - c->off < 1)
		return false;
	*v = c->p[c->off++];
	return true;
}

static bool sni_get_u16(struct sni_cur *c, uint16_t *v)
{
	if (c->len - c->off < 2)
		return false;
	*v = (uint16_t)(c->p[c->off] << 8 | c->p[c->off + 1]);
	c->off += 2;
	return true;
}

/* sni_get_sub - carve the next <n> bytes of <c> into their own cursor <sub>, so a nested length
 * can never let a sub-parser run into its parent's following fields. */
static bool sni_get_sub(struct sni_cur *c, size_t n, struct sni_cur *sub)
{
	if (c->len - c->off < n)
		return false;
	sub->p = c->p + c->off;
	sub->len = n;
	sub->off = 0;
	c->off += n;
	return true;
}

static bool sni_skip(struct sni_cur *c, size_t n)
{
	struct sni_cur unused;

	return sni_get_sub(c, n, &unused);
}

static bool sni_at_end(const struct sni_cur *c)
{
	return c->off == c->len;
}

/* server_name (RFC 6066 section 3): a list of (name_type, name). Only the first host_name is
 * kept; later entries are still length-checked so a bad list is not half-accepted. */
static bool sni_ext_server_name(struct sni_cur *ext, struct sni_info *out)
{
	struct sni_cur list;
	uint16_t list_len;

	if (!sni_get_u16(ext, &list_len) || !sni_get_sub(ext, list_len, &list) || !sni_at_end(ext))
		return false;
	if (list_len == 0)
		return false;
	while (!sni_at_end(&list)) {
		struct sni_cur name;
		uint8_t type;
		uint16_t name_len;

		if (!sni_get_u8(&list, &type) || !sni_get_u16(&list, &name_len) ||
		    !sni_get_sub(&list, name_len, &name))
			return false;
		if (type != SNI_NAME_HOST)
			continue;
		/* An empty name, or one that does not fit a DNS name, cannot be what the client
		 * means to reach; a NUL would let the C string we hand on differ from the bytes
		 * the server sees, which is exactly the kind of ambiguity policy must not trust. */
		if (name_len == 0 || name_len > 255 || memchr(name.p, 0, name_len))
			return false;
		if (out->has_sni)
			continue;
		for (size_t i = 0; i < name_len; i++) {
			uint8_t ch = name.p[i];

			/* ASCII only: tolower() would depend on the process locale. */
			out->server_name[i] =
				(char)(ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch);
		}
		out->server_name[name_len] = '\0';
		out->has_sni = true;
	}
	return true;
}

/* An ALPN id goes into the joined string only if it is printable and free of ',', since otherwise
 * the joined form could not be split back into the ids the client really offered. */
static bool sni_alpn_representable(const struct sni_cur *id)
{
	for (size_t i = 0; i < id->len; i++)
		if (id->p[i] < 0x21 || id->p[i] > 0x7e || id->p[i] == ',')
			return false;
	return true;
}

/* application_layer_protocol_negotiation (RFC 7301 section 3.1). Ids are appended whole or not at
 * all: a cut "http/1.1" would read as a different, shorter protocol id. */
static bool sni_ext_alpn(struct sni_cur *ext, struct sni_info *out)
{
	struct sni_cur list;
	uint16_t list_len;
	size_t used = 0;
	bool full = false;

	if (!sni_get_u16(ext, &list_len) || !sni_get_sub(ext, list_len, &list) || !sni_at_end(ext))
		return false;
	if (list_len < 2)
		return false;
	while (!sni_at_end(&list)) {
		struct sni_cur id;
		uint8_t id_len;
		size_t need;

		if (!sni_get_u8(&list, &id_len) || id_len == 0 || !sni_get_sub(&list, id_len, &id))
			return false;
		if (full || !sni_alpn_representable(&id))
			continue;
		need = (used ? 1 : 0) + id_len;
		if (need >= sizeof(out->alpn) - used) {
			/* Stop at the first id that does not fit so the kept ids stay a prefix of
			 * the client's preference order. */
			full = true;
			continue;
		}
		if (used)
			out->alpn[used++] = ',';
		memcpy(out->alpn + used, id.p, id_len);
		used += id_len;
		out->alpn[used] = '\0';
	}
	return true;
}

/* supported_versions in a ClientHello (RFC 8446 section 4.2.1): a one-byte-length list of
 * two-byte versions. */
static bool sni_ext_supported_versions(struct sni_cur *ext, struct sni_info *out)
{
	struct sni_cur list;
	uint8_t list_len;

	if (!sni_get_u8(ext, &list_len) || !sni_get_sub(ext, list_len, &list) || !sni_at_end(ext))
		return false;
	if (list_len < 2 || list_len % 2)
		return false;
	/* The length is even, so reading pairs until none is left consumes the whole list. */
	for (uint16_t v; sni_get_u16(&list, &v);)
		if (v == SNI_TLS13)
			out->offers_tls13 = true;
	return true;
}

/* sni_parse_hello - parse the ClientHello body <body> (without its 4-byte handshake header). */
static enum sni_result sni_parse_hello(struct sni_cur *body, struct sni_info *out)
{
	struct sni_cur exts;
	uint16_t exts_len, suites_len;
	uint8_t sid_len, comp_len;
	/* RFC 8446 forbids repeating an extension; a repeat of one we read could make us see a
	 * different name or protocol than the server picks, so it is refused, not tolerated. */
	bool seen_sni = false, seen_alpn = false, seen_versions = false;

	if (!sni_get_u16(body, &out->hello_version) || !sni_skip(body, 32) ||
	    !sni_get_u8(body, &sid_len) || sid_len > 32 || !sni_skip(body, sid_len) ||
	    !sni_get_u16(body, &suites_len) || suites_len < 2 || suites_len % 2 ||
	    !sni_skip(body, suites_len) || !sni_get_u8(body, &comp_len) || comp_len < 1 ||
	    !sni_skip(body, comp_len))
		return SNI_MALFORMED;
	/* Extensions are optional before TLS 1.2; a hello that stops here simply has none. */
	if (sni_at_end(body))
		return SNI_OK;
	if (!sni_get_u16(body, &exts_len) || !sni_get_sub(body, exts_len, &exts) ||
	    !sni_at_end(body))
		return SNI_MALFORMED;

	while (!sni_at_end(&exts)) {
		struct sni_cur ext;
		uint16_t type, ext_len;
		bool ok = true;

		if (!sni_get_u16(&exts, &type) || !sni_get_u16(&exts, &ext_len) ||
		    !sni_get_sub(&exts, ext_len, &ext))
			return SNI_MALFORMED;
		switch (type) {
		case SNI_EXT_SERVER_NAME:
			ok = !seen_sni && sni_ext_server_name(&ext, out);
			seen_sni = true;
			break;
		case SNI_EXT_ALPN:
			ok = !seen_alpn && sni_ext_alpn(&ext, out);
			seen_alpn = true;
			break;
		case SNI_EXT_SUPPORTED_VERSIONS:
			ok = !seen_versions && sni_ext_supported_versions(&ext, out);
			seen_versions = true;
			break;
		default:
			break;
		}
		if (!ok)
			return SNI_MALFORMED;
	}
	return SNI_OK;
}

/* sni_check_header - judge the first <n> (at most 4) bytes of a record header <h>, so that a
 * non-TLS stream is recognised from its first byte instead of after five. Only the first record
 * (<first>) may say "not TLS": once a handshake has begun, anything else in its place is a
 * broken hello. */
static enum sni_result sni_check_header(const uint8_t *h, size_t n, bool first)
{
	enum sni_result bad = first ? SNI_NOT_TLS : SNI_MALFORMED;

	if (n >= 1 && h[0] != SNI_CT_HANDSHAKE)
		return bad;
	if (n >= 2 && h[1] != 3)
		return bad;
	if (n >= 3 && h[2] > 4)
		return SNI_MALFORMED;
	if (n >= 4 && ((size_t)h[3] << 8) > SNI_MAX_RECORD)
		return SNI_MALFORMED;
	return SNI_NEED_MORE;
}

/* sni_join - copy the first <need> handshake bytes out of the already validated records at the
 * start of <buf> into <hs>. Only used when the hello is split, the rare case. */
static void sni_join(const uint8_t *buf, size_t need, uint8_t *hs)
{
	size_t have = 0, off = 0;

	while (have < need) {
		size_t rec_len = (size_t)buf[off + 3] << 8 | buf[off + 4];
		size_t n = need - have < rec_len ? need - have : rec_len;

		memcpy(hs + have, buf + off + SNI_REC_HDR, n);
		have += n;
		off += SNI_REC_HDR + rec_len;
	}
}

enum sni_result sni_parse(const uint8_t *buf, size_t len, struct sni_info *out)
{
	/* A split hello is joined here. It always fits: every record adds a 5-byte header to
	 * what the cap counts, so the handshake alone is smaller than the cap. */
	uint8_t hs[SNI_MAX_HELLO_BYTES];
	uint8_t hs_hdr[SNI_HS_HDR];
	size_t have = 0, need = 0, off = 0;
	struct sni_cur body;

	memset(out, 0, sizeof(*out));
	/* Nothing read yet: <buf> may even be NULL, so it is not touched. */
	if (len == 0)
		return SNI_NEED_MORE;
	/* First walk only the record headers and the 4-byte handshake header, so that the many
	 * calls made while a hello trickles in cost little and copy nothing. */
	for (;;) {
		const uint8_t *rec = buf + off;
		size_t rec_len, frag;
		enum sni_result r;

		if (len - off < SNI_REC_HDR)
			return sni_check_header(rec, len - off, off == 0);
		r = sni_check_header(rec, SNI_REC_HDR - 1, off == 0);
		if (r != SNI_NEED_MORE)
			return r;
		rec_len = (size_t)rec[3] << 8 | rec[4];
		if (rec_len == 0 || rec_len > SNI_MAX_RECORD)
			return SNI_MALFORMED;
		if (off == 0)
			out->record_version = (uint16_t)(rec[1] << 8 | rec[2]);
		/* off <= cap and rec_len <= SNI_MAX_RECORD, so this sum cannot wrap. */
		if (off + SNI_REC_HDR + rec_len > SNI_MAX_HELLO_BYTES)
			return SNI_MALFORMED;

		frag = len - off - SNI_REC_HDR;
		if (frag > rec_len)
			frag = rec_len;
		for (size_t i = 0; i < frag && have + i < SNI_HS_HDR; i++)
			hs_hdr[have + i] = rec[SNI_REC_HDR + i];
		have += frag;

		if (have > 0 && hs_hdr[0] != SNI_HS_CLIENT_HELLO)
			return SNI_MALFORMED;
		if (need == 0 && have >= SNI_HS_HDR) {
			size_t body_len =
				(size_t)hs_hdr[1] << 16 | (size_t)hs_hdr[2] << 8 | hs_hdr[3];

			/* Even in one record, a body this long cannot fit the cap. */
			if (body_len > SNI_MAX_HELLO_BYTES - SNI_REC_HDR - SNI_HS_HDR)
				return SNI_MALFORMED;
			need = SNI_HS_HDR + body_len;
		}

		/* Wait for the whole record even when the hello ends inside it, so hello_bytes
		 * always names bytes the caller actually holds. */
		if (frag < rec_len)
			return SNI_NEED_MORE;
		off += SNI_REC_HDR + rec_len;
		if (need != 0 && have >= need)
			break;
	}

	out->hello_bytes = off;
	if (need <= ((size_t)buf[3] << 8 | buf[4])) {
		body.p = buf + SNI_REC_HDR + SNI_HS_HDR;
	} else {
		sni_join(buf, need, hs);
		body.p = hs + SNI_HS_HDR;
	}
	body.len = need - SNI_HS_HDR;
	body.off = 0;
	return sni_parse_hello(&body, out);
}

const char *sni_result_str(enum sni_result r)
{
	switch (r) {
	case SNI_OK:
		return "ok";
	case SNI_NEED_MORE:
		return "need more";
	case SNI_NOT_TLS:
		return "not tls";
	case SNI_MALFORMED:
		return "malformed";
	}
	return "unknown";
}
