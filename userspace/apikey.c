/* apikey: where requests carry keys, the table of known key formats, fingerprints.
 * Owns the format table (static); borrows every key it is given and keeps no copy of it. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>

#include "apikey.h"
#include "apikey_rules.h"
#include "hexdigit.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define FMT(id, name, provider, ephemeral) [id] = { id, name, provider, ephemeral }
static const struct apikey_format formats[APIKEY_FMT_COUNT] = {
	FMT(APIKEY_FMT_UNKNOWN, "unknown", "unknown", false),
	FMT(APIKEY_FMT_ANTHROPIC_API, "anthropic-api", "anthropic", false),
	FMT(APIKEY_FMT_ANTHROPIC_ADMIN, "anthropic-admin", "anthropic", false),
	FMT(APIKEY_FMT_ANTHROPIC_OTHER, "anthropic-other", "anthropic", false),
	FMT(APIKEY_FMT_OPENROUTER, "openrouter", "openrouter", false),
	FMT(APIKEY_FMT_OPENAI_PROJECT, "openai-project", "openai", false),
	FMT(APIKEY_FMT_OPENAI_SVCACCT, "openai-service-account", "openai", false),
	FMT(APIKEY_FMT_OPENAI_ADMIN, "openai-admin", "openai", false),
	FMT(APIKEY_FMT_OPENAI_LEGACY, "openai-legacy", "openai", false),
	FMT(APIKEY_FMT_GOOGLE, "google-api-key", "google", false),
	FMT(APIKEY_FMT_GROQ, "groq", "groq", false),
	FMT(APIKEY_FMT_XAI, "xai", "xai", false),
	FMT(APIKEY_FMT_PERPLEXITY, "perplexity", "perplexity", false),
	FMT(APIKEY_FMT_HUGGINGFACE, "huggingface", "huggingface", false),
	FMT(APIKEY_FMT_JWT, "jwt", "unknown", true),
	FMT(APIKEY_FMT_GOOGLE_OAUTH, "google-oauth", "google", true),
};
#undef FMT

/* Tried in order; the first rule whose prefix matches decides unless it falls through. Longer
 * prefixes of a family come before the family's generic rule (sk-ant- before sk-). Lengths are
 * body lengths (after the prefix); real keys are longer than the minimums, which only keep
 * short made-up strings out. */
const struct apikey_rule apikey_rules[] = {
	{ "sk-ant-api03-", 13, APIKEY_CS_B64URL, 80, 0, true, 3, APIKEY_FMT_ANTHROPIC_API },
	{ "sk-ant-admin01-", 15, APIKEY_CS_B64URL, 80, 0, true, 3, APIKEY_FMT_ANTHROPIC_ADMIN },
	{ "sk-ant-", 7, APIKEY_CS_B64URL, 20, 0, false, 3, APIKEY_FMT_ANTHROPIC_OTHER },
	{ "sk-or-v1-", 9, APIKEY_CS_HEX_LOWER, 64, 64, false, 2, APIKEY_FMT_OPENROUTER },
	{ "sk-proj-", 8, APIKEY_CS_B64URL, 40, 0, false, 3, APIKEY_FMT_OPENAI_PROJECT },
	{ "sk-svcacct-", 11, APIKEY_CS_B64URL, 40, 0, false, 3, APIKEY_FMT_OPENAI_SVCACCT },
	{ "sk-admin-", 9, APIKEY_CS_B64URL, 40, 0, false, 3, APIKEY_FMT_OPENAI_ADMIN },
	{ "sk-", 3, APIKEY_CS_B64URL, 32, 0, false, 3, APIKEY_FMT_OPENAI_LEGACY },
	{ "AIza", 4, APIKEY_CS_B64URL, 35, 35, false, 2, APIKEY_FMT_GOOGLE },
	{ "gsk_", 4, APIKEY_CS_ALNUM, 40, 0, false, 3, APIKEY_FMT_GROQ },
	{ "xai-", 4, APIKEY_CS_ALNUM, 40, 0, false, 3, APIKEY_FMT_XAI },
	{ "pplx-", 5, APIKEY_CS_ALNUM, 32, 0, false, 2, APIKEY_FMT_PERPLEXITY },
	{ "hf_", 3, APIKEY_CS_ALNUM, 30, 0, false, 2, APIKEY_FMT_HUGGINGFACE },
	{ "eyJ", 3, APIKEY_CS_JWT, 20, 0, false, 0, APIKEY_FMT_JWT },
	{ "ya29.", 5, APIKEY_CS_DOTTED, 20, 0, false, 0, APIKEY_FMT_GOOGLE_OAUTH },
};
const size_t apikey_nrules = ARRAY_SIZE(apikey_rules);

bool apikey_cs_has(enum apikey_charset cs, unsigned char c)
{
	bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

	switch (cs) {
	case APIKEY_CS_ALNUM:
		return alnum;
	case APIKEY_CS_B64URL:
		return alnum || c == '-' || c == '_';
	case APIKEY_CS_HEX_LOWER:
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
	case APIKEY_CS_JWT:
	case APIKEY_CS_DOTTED:
		return alnum || c == '-' || c == '_' || c == '.';
	}
	return false;
}

/* Whether <body> fits <r>: charset, length and, for JWTs, the three dot-separated parts. */
static bool body_fits(const struct apikey_rule *r, const char *body, size_t len)
{
	size_t dots = 0;

	if (len < r->min_body || (r->max_body && len > r->max_body))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!apikey_cs_has(r->cs, (unsigned char)body[i]))
			return false;
		dots += body[i] == '.';
	}
	return r->cs != APIKEY_CS_JWT || dots == 2;
}

const struct apikey_rule *apikey_rule_match(const char *key, size_t len)
{
	for (size_t i = 0; i < apikey_nrules; i++) {
		const struct apikey_rule *r = &apikey_rules[i];

		if (len < r->prefix_len || memcmp(key, r->prefix, r->prefix_len) != 0)
			continue;
		if (body_fits(r, key + r->prefix_len, len - r->prefix_len))
			return r;
		if (!r->fallthrough)
			return NULL;
	}
	return NULL;
}

const struct apikey_format *apikey_classify(const char *key, size_t len)
{
	const struct apikey_rule *r = key ? apikey_rule_match(key, len) : NULL;

	return &formats[r ? r->fmt : APIKEY_FMT_UNKNOWN];
}

const struct apikey_format *apikey_format_of(enum apikey_fmt_id id)
{
	if ((unsigned)id >= APIKEY_FMT_COUNT)
		id = APIKEY_FMT_UNKNOWN;
	return &formats[id];
}

static const char *const location_names[] = {
	[APIKEY_LOC_NONE] = "none",
	[APIKEY_LOC_X_API_KEY] = "x-api-key",
	[APIKEY_LOC_X_GOOG_API_KEY] = "x-goog-api-key",
	[APIKEY_LOC_API_KEY] = "api-key",
	[APIKEY_LOC_BEARER] = "authorization",
	[APIKEY_LOC_QUERY_KEY] = "query:key",
};

const char *apikey_location_name(enum apikey_location loc)
{
	if ((unsigned)loc >= ARRAY_SIZE(location_names))
		loc = APIKEY_LOC_NONE;
	return location_names[loc];
}

/* ---- finding the key ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool name_is(const struct http_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name && f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

static void trim(const char **p, size_t *len)
{
	while (*len && is_blank(**p))
		(*p)++, (*len)--;
	while (*len && is_blank((*p)[*len - 1]))
		(*len)--;
}

/* The token of "Bearer <token>", or NULL for other schemes. */
static const char *bearer_token(const char *v, size_t len, size_t *tok_len)
{
	static const char scheme[] = "bearer";
	size_t n = sizeof(scheme) - 1;

	if (len <= n || strncasecmp(v, scheme, n) != 0 || !is_blank(v[n]))
		return NULL;
	v += n;
	len -= n;
	trim(&v, &len);
	*tok_len = len;
	return len ? v : NULL;
}

static void add_ref(struct apikey_ref *out, size_t max, size_t *n, enum apikey_location loc,
		    const char *key, size_t len, bool encoded)
{
	if (*n < max) {
		out[*n] = (struct apikey_ref){ .loc = loc,
					       .where = apikey_location_name(loc),
					       .key = key,
					       .len = len,
					       .pct_encoded = encoded };
	}
	(*n)++;
}

static void find_in_query(const char *path, struct apikey_ref *out, size_t max, size_t *n)
{
	const char *q = path ? strchr(path, '?') : NULL;

	if (!q)
		return;
	q++;
	while (*q && *q != '#') {
		size_t plen = strcspn(q, "&#");
		const char *eq = memchr(q, '=', plen);

		if (eq && eq - q == 3 && memcmp(q, "key", 3) == 0) {
			const char *v = eq + 1;
			size_t vlen = plen - 4;

			if (vlen)
				add_ref(out, max, n, APIKEY_LOC_QUERY_KEY, v, vlen,
					memchr(v, '%', vlen) != NULL);
		}
		q += plen;
		if (*q == '&')
			q++;
	}
}

size_t apikey_find(const char *path, const struct http_field *fields, size_t nfields,
		   struct apikey_ref *out, size_t max)
{
	static const struct {
		const char *name;
		enum apikey_location loc;
	} headers[] = {
		{ "x-api-key", APIKEY_LOC_X_API_KEY },
		{ "x-goog-api-key", APIKEY_LOC_X_GOOG_API_KEY },
		{ "api-key", APIKEY_LOC_API_KEY },
		{ "authorization", APIKEY_LOC_BEARER },
	};
	size_t n = 0;

	for (size_t h = 0; h < ARRAY_SIZE(headers); h++) {
		for (size_t i = 0; fields && i < nfields; i++) {
			const char *v = fields[i].value;
			size_t len = fields[i].value_len;

			if (!name_is(&fields[i], headers[h].name) || !v)
				continue;
			trim(&v, &len);
			if (headers[h].loc == APIKEY_LOC_BEARER)
				v = bearer_token(v, len, &len);
			if (v && len)
				add_ref(out, max, &n, headers[h].loc, v, len, false);
		}
	}
	find_in_query(path, out, max, &n);
	return n;
}

/* ---- fingerprints ---- */

/* A keyed HMAC context per thread: the one-shot HMAC() fetches the MAC and the digest and sets
 * the key up on every call (several microseconds on OpenSSL 3.0, a visible part of each
 * request); re-initialising a keyed context costs a copy. Rekeyed when another secret comes. */
struct fp_mac {
	EVP_MAC_CTX *ctx;
	uint8_t secret[APIKEY_SECRET_LEN];
};

static pthread_key_t fp_mac_key;
static pthread_once_t fp_mac_once = PTHREAD_ONCE_INIT;
static int fp_mac_key_ok;

static void fp_mac_free(void *p)
{
	struct fp_mac *m = p;

	EVP_MAC_CTX_free(m->ctx);
	OPENSSL_cleanse(m->secret, sizeof(m->secret));
	free(m);
}

static void fp_mac_key_make(void)
{
	fp_mac_key_ok = pthread_key_create(&fp_mac_key, fp_mac_free) == 0;
}

/* fp_mac_get - this thread's context, keyed with <secret>; NULL when it cannot be made. */
static EVP_MAC_CTX *fp_mac_get(const uint8_t secret[APIKEY_SECRET_LEN])
{
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
								(char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	struct fp_mac *m;

	pthread_once(&fp_mac_once, fp_mac_key_make);
	if (!fp_mac_key_ok)
		return NULL;
	m = pthread_getspecific(fp_mac_key);
	if (m && CRYPTO_memcmp(m->secret, secret, APIKEY_SECRET_LEN) == 0)
		return EVP_MAC_init(m->ctx, NULL, 0, NULL) == 1 ? m->ctx : NULL;
	if (!m) {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

		m = calloc(1, sizeof(*m));
		if (!m || !mac || !(m->ctx = EVP_MAC_CTX_new(mac)) ||
		    pthread_setspecific(fp_mac_key, m) != 0) {
			EVP_MAC_free(mac);
			if (m)
				fp_mac_free(m);
			return NULL;
		}
		EVP_MAC_free(mac); /* the context holds its own reference */
	}
	memcpy(m->secret, secret, APIKEY_SECRET_LEN);
	return EVP_MAC_init(m->ctx, secret, APIKEY_SECRET_LEN, params) == 1 ? m->ctx : NULL;
}

int apikey_fingerprint(const uint8_t secret[APIKEY_SECRET_LEN], const char *key, size_t len,
		       char out[APIKEY_FP_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MAC_CTX *ctx = fp_mac_get(secret);
	size_t mdlen = 0;

	out[0] = '\0';
	if (!ctx || EVP_MAC_update(ctx, (const unsigned char *)(key ? key : ""), len) != 1 ||
	    EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1 || mdlen * 2 != APIKEY_FP_HEX_LEN)
		return -EIO;
	for (size_t i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	OPENSSL_cleanse(md, sizeof(md));
	out[APIKEY_FP_HEX_LEN] = '\0';
	return 0;
}

void apikey_last4(const char *key, size_t len, char out[5])
{
	out[0] = '\0';
	if (!key || len < APIKEY_LAST4_MIN_KEY)
		return;
	for (size_t i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)key[len - 4 + i];

		out[i] = c > ' ' && c < 0x7f ? (char)c : '?';
	}
	out[4] = '\0';
}

/* Percent-decode <len> bytes of <s> into <out> (at least <len> bytes); a '%' not followed by
 * two hex digits stays as it is. Returns the decoded length. */
static size_t pct_decode(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < len && (hi = hex_digit_value(s[i + 1])) >= 0 &&
		    (lo = hex_digit_value(s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

static int identify_bytes(const uint8_t *secret, const char *key, size_t len,
			  struct apikey_id *out)
{
	out->fmt = apikey_classify(key, len);
	apikey_last4(key, len, out->last4);
	return apikey_fingerprint(secret, key, len, out->fp);
}

/* A percent-encoded query value, decoded on the stack and wiped after use. */
static int identify_encoded(const uint8_t *secret, const struct apikey_ref *ref,
			    struct apikey_id *out)
{
	char buf[APIKEY_DECODE_MAX] = { 0 };
	size_t len;
	int rc;

	if (ref->len > sizeof(buf))
		return -EMSGSIZE;
	len = pct_decode(ref->key, ref->len, buf);
	rc = identify_bytes(secret, buf, len, out);
	OPENSSL_cleanse(buf, len);
	return rc;
}

int apikey_identify(const uint8_t secret[APIKEY_SECRET_LEN], const struct apikey_ref *ref,
		    struct apikey_id *out)
{
	memset(out, 0, sizeof(*out));
	out->loc = ref->loc;
	out->fmt = apikey_format_of(APIKEY_FMT_UNKNOWN);
	if (ref->pct_encoded)
		return identify_encoded(secret, ref, out);
	return identify_bytes(secret, ref->key, ref->len, out);
}
