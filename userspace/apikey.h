/* apikey: finds the API key of an intercepted request, classifies its format, fingerprints it
 * (HMAC-SHA256 under the fleet secret) and scans text for provider keys leaked into prompts.
 * Owns the format table and the fleet-secret file; borrows every key byte (never copied to
 * anything that outlives a call, wiped from the stack after use, never put in any string). */
#ifndef MODELUX_APIKEY_H
#define MODELUX_APIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hook.h"

#define APIKEY_SECRET_LEN 32  /* fleet secret, bytes */
#define APIKEY_FP_HEX_LEN 64  /* HMAC-SHA256 as lower-case hex, without the NUL */
#define APIKEY_LAST4_MIN_KEY 20 /* shorter keys get no last4: 4 characters would reveal too much */
#define APIKEY_DECODE_MAX 1024  /* longest percent-encoded query key apikey_identify() decodes */

/* Where a request carried its key. */
enum apikey_location {
	APIKEY_LOC_NONE = 0,
	APIKEY_LOC_X_API_KEY,      /* x-api-key: K (Anthropic) */
	APIKEY_LOC_X_GOOG_API_KEY, /* x-goog-api-key: K (Gemini) */
	APIKEY_LOC_API_KEY,        /* api-key: K (Azure OpenAI) */
	APIKEY_LOC_BEARER,         /* Authorization: Bearer K (OpenAI and compatibles) */
	APIKEY_LOC_QUERY_KEY,      /* ?key=K (Gemini) */
};

enum apikey_fmt_id {
	APIKEY_FMT_UNKNOWN = 0,
	APIKEY_FMT_ANTHROPIC_API,     /* sk-ant-api03- */
	APIKEY_FMT_ANTHROPIC_ADMIN,   /* sk-ant-admin01- */
	APIKEY_FMT_ANTHROPIC_OTHER,   /* any other sk-ant- (OAuth tokens, future versions) */
	APIKEY_FMT_OPENROUTER,        /* sk-or-v1- */
	APIKEY_FMT_OPENAI_PROJECT,    /* sk-proj- */
	APIKEY_FMT_OPENAI_SVCACCT,    /* sk-svcacct- */
	APIKEY_FMT_OPENAI_ADMIN,      /* sk-admin- */
	APIKEY_FMT_OPENAI_LEGACY,     /* sk- */
	APIKEY_FMT_GOOGLE,            /* AIza, 39 characters */
	APIKEY_FMT_GROQ,              /* gsk_ */
	APIKEY_FMT_XAI,               /* xai- */
	APIKEY_FMT_PERPLEXITY,        /* pplx- */
	APIKEY_FMT_HUGGINGFACE,       /* hf_ */
	APIKEY_FMT_JWT,               /* eyJ...: an OAuth/Entra ID access token */
	APIKEY_FMT_GOOGLE_OAUTH,      /* ya29.: a Google OAuth access token */
	APIKEY_FMT_COUNT
};

struct apikey_format {
	enum apikey_fmt_id id;
	const char *name;     /* "openai-project", ..., "unknown" */
	const char *provider; /* "openai", "anthropic", "google", ..., "unknown" */
	bool ephemeral;       /* a short-lived access token rather than a long-lived API key */
};

/* A key found in a request. <key> points into the caller's path or header value. */
struct apikey_ref {
	enum apikey_location loc;
	const char *where;  /* "x-api-key", "authorization", "query:key", ... (static) */
	const char *key;    /* borrowed, valid as long as the request */
	size_t len;
	bool pct_encoded;   /* query value with %XX escapes: apikey_identify() decodes it */
};

/* Everything about a key that may be stored or shown. */
struct apikey_id {
	enum apikey_location loc;
	const struct apikey_format *fmt;
	char fp[APIKEY_FP_HEX_LEN + 1]; /* HMAC-SHA256(secret, key) in hex */
	char last4[5];                  /* "" when the key is shorter than APIKEY_LAST4_MIN_KEY */
};

/* apikey_find - the keys a request carries, most specific first: x-api-key, x-goog-api-key,
 * api-key, Authorization: Bearer, then ?key= in <path> (NUL-terminated, may be NULL). Header
 * names match in any case; values are trimmed of blanks; empty values are skipped. Fills up to
 * <max> entries of <out> and returns how many keys were found (which may exceed <max>). */
size_t apikey_find(const char *path, const struct http_field *fields, size_t nfields,
		   struct apikey_ref *out, size_t max);

/* apikey_classify - the format of a key (the whole string must fit the format). Never NULL:
 * unknown formats get the "unknown" format. */
const struct apikey_format *apikey_classify(const char *key, size_t len);
const struct apikey_format *apikey_format_of(enum apikey_fmt_id id);
const char *apikey_location_name(enum apikey_location loc);

/* apikey_fingerprint - HMAC-SHA256(<secret>, key) as lower-case hex into <out>.
 * Returns 0, or -EIO when OpenSSL fails. */
int apikey_fingerprint(const uint8_t secret[APIKEY_SECRET_LEN], const char *key, size_t len,
		       char out[APIKEY_FP_HEX_LEN + 1]);

/* apikey_last4 - the last four characters of a key long enough to show them, else "";
 * bytes outside printable ASCII are shown as '?'. */
void apikey_last4(const char *key, size_t len, char out[5]);

/* apikey_identify - classify and fingerprint <ref> (decoding a percent-encoded query value on
 * the stack, wiped after). Returns 0, -EMSGSIZE for an encoded value longer than
 * APIKEY_DECODE_MAX, or -EIO. */
int apikey_identify(const uint8_t secret[APIKEY_SECRET_LEN], const struct apikey_ref *ref,
		    struct apikey_id *out);

/* apikey_secret_load_or_create - read the 32-byte fleet secret from <path>, or create it (mode
 * 0600, random bytes, written to a temporary file, fsync'd, then linked into place so no reader
 * ever sees a partial file). Refuses a file that is not a regular file owned by the caller's
 * effective uid, has any group/other permission bit, or is not exactly 32 bytes.
 * Returns 0 when loaded, 1 when created, or a negative errno with a message in <err>. */
int apikey_secret_load_or_create(const char *path, uint8_t out[APIKEY_SECRET_LEN], char *err,
				 size_t errlen);

/* ---- leak scanning: provider keys pasted into request bodies / prompts ---- */

#define APIKEY_SCAN_MAX_TOKEN 256 /* longer runs of key characters are not keys (base64 blobs) */
#define APIKEY_SCAN_MIN_TOKEN 20  /* shorter runs are not keys either */
#define APIKEY_LEAKS_MAX 8        /* distinct keys remembered per scan */

struct apikey_leak {
	const struct apikey_format *fmt;
	char fp[APIKEY_FP_HEX_LEN + 1];
	char last4[5];
	uint64_t offset; /* of the first occurrence, in bytes from the start of the stream */
};

/* Streaming scanner: feed the body as it passes, in chunks of any size; a key split across
 * chunks is found. The partial token carried between chunks is wiped when consumed. */
struct apikey_scan {
	const uint8_t *secret;    /* borrowed, APIKEY_SECRET_LEN bytes */
	uint64_t offset;          /* bytes fed so far */
	unsigned occurrences;     /* keys found, repeats included */
	unsigned nleaks;          /* distinct keys in leaks[] */
	bool leaks_truncated;     /* more distinct keys than APIKEY_LEAKS_MAX */
	int error;                /* first fingerprint failure (-EIO), else 0 */
	struct apikey_leak leaks[APIKEY_LEAKS_MAX];
	/* carried token (a run of key characters that reached the end of the last chunk) */
	char carry[APIKEY_SCAN_MAX_TOKEN];
	size_t carry_len;         /* run length so far; beyond the buffer it is no key */
	bool in_run;
	char before_run;          /* byte before the run, 0 at stream start */
	char after_prev;          /* last byte fed, for the next run's "before" */
	uint64_t run_offset;
};

void apikey_scan_init(struct apikey_scan *s, const uint8_t secret[APIKEY_SECRET_LEN]);
void apikey_scan_feed(struct apikey_scan *s, const char *data, size_t len);
/* apikey_scan_finish - end of stream: decide the last run and wipe the carried bytes. */
void apikey_scan_finish(struct apikey_scan *s);
/* apikey_scan_text - init + feed + finish for a whole buffer. */
void apikey_scan_text(struct apikey_scan *s, const uint8_t secret[APIKEY_SECRET_LEN],
		      const char *text, size_t len);

/* apikey_plausible - whether <key> (already of format <fmt>) looks random enough to be a real key
 * rather than ordinary text: the scanner's extra filter, not applied to header keys. */
bool apikey_plausible(const char *key, size_t len, const struct apikey_format *fmt);

#endif
