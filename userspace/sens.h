/* sens: content sensitivity detectors (PII and secrets) for LLM request bodies, behind
 * `tags.sensitivity`. Owns one compiled Hyperscan database (shared, immutable) and the per-thread
 * scratch; borrows the text it scans. Only counts leave the module: the matched text is never
 * stored, returned or put in an error message.
 *
 * Typical use: sens_db_new() once at start-up, sens_scratch_new() once per worker thread, then
 * sens_scan() on each request body (raw JSON bytes; JSON string escapes are boundaries and JSON
 * structure outside string values is ignored), sens_level() for the tag value. */
#ifndef MODELUX_SENS_H
#define MODELUX_SENS_H

#include <stddef.h>
#include <stdint.h>

enum sens_kind {
	SENS_EMAIL = 1u << 0,
	SENS_PHONE = 1u << 1,
	SENS_CARD = 1u << 2,
	SENS_NATIONAL_ID = 1u << 3, /* US SSN, UK NINO, French NIR */
	SENS_IBAN = 1u << 4,
	SENS_SECRET = 1u << 5, /* credentials other than LLM provider keys (apikey_scan) */
};

#define SENS_NKINDS 6
#define SENS_ALL_MASK ((1u << SENS_NKINDS) - 1)
#define SENS_PII_MASK (SENS_EMAIL | SENS_PHONE | SENS_CARD | SENS_NATIONAL_ID | SENS_IBAN)
#define SENS_SECRET_MASK ((uint32_t)SENS_SECRET)

/* Which secret detectors fired (struct sens_report.secrets); all count as SENS_SECRET. */
enum sens_secret {
	SENS_SECRET_AWS_KEY_ID = 1u << 0,   /* AKIA / ASIA + 16 */
	SENS_SECRET_AWS_SECRET = 1u << 1,   /* aws_secret_access_key = <40 chars> */
	SENS_SECRET_GITHUB = 1u << 2,       /* ghp_ gho_ ghs_ ghu_ ghr_ github_pat_ */
	SENS_SECRET_SLACK = 1u << 3,        /* xoxa- xoxb- xoxp- xoxr- */
	SENS_SECRET_STRIPE = 1u << 4,       /* sk_live_ rk_live_ */
	SENS_SECRET_GOOGLE_OAUTH = 1u << 5, /* GOCSPX- client secret */
	SENS_SECRET_PRIVATE_KEY = 1u << 6,  /* PEM -----BEGIN ... PRIVATE KEY----- with a body */
	SENS_SECRET_JWT = 1u << 7,          /* header.payload.signature, header has "alg" */
	SENS_SECRET_PASSWORD = 1u << 8,     /* password= / "password": "..." with a real value */
	SENS_SECRET_DB_URL = 1u << 9,       /* scheme://user:password@host */
};

#define SENS_NSECRETS 10

/* sens_kind_index - the slot of single-bit kind <k> in sens_report.count[] (its bit number). */
static inline unsigned sens_kind_index(enum sens_kind k)
{
	return (unsigned)__builtin_ctz((unsigned)k);
}

struct sens_report {
	uint32_t kinds;               /* OR of the kinds with count > 0 */
	uint32_t count[SENS_NKINDS];  /* validated occurrences per kind, by sens_kind_index() */
	uint32_t secrets;             /* enum sens_secret bits, when SENS_SECRET is in kinds */
};

struct sens_db;      /* immutable after sens_db_new(); shared by all threads */
struct sens_scratch; /* one per thread; not shareable between concurrent scans */

/* sens_db_new - compile the detector database (tens of milliseconds: do it once).
 * Returns 0, or a negative errno with a message in <err> (<errlen> bytes). */
int sens_db_new(struct sens_db **out, char *err, size_t errlen);
void sens_db_free(struct sens_db *db);

/* sens_scratch_new - per-thread scan state for <db> (which must outlive it).
 * Returns 0, or a negative errno with a message in <err>. */
int sens_scratch_new(const struct sens_db *db, struct sens_scratch **out, char *err,
		     size_t errlen);
void sens_scratch_free(struct sens_scratch *s);

/* sens_scan - scan <len> bytes of <text> (a raw request body: JSON or plain text) and fill <out>
 * with the detections of the kinds in <enabled> (other kinds are neither validated nor reported).
 * Never allocates. Returns 0; -EINVAL for bad arguments (NULL, scratch of another database),
 * -E2BIG if <len> exceeds what Hyperscan scans in one block (4 GiB), -EBUSY if <s> is in use by
 * another scan, -EIO for any other engine failure. <out> is zeroed on every error. */
int sens_scan(const struct sens_db *db, struct sens_scratch *s, uint32_t enabled,
	      const char *text, size_t len, struct sens_report *out);

/* sens_level - "secret" if any secret, else "pii" if any PII, else "none" (NULL: "none"). */
const char *sens_level(const struct sens_report *r);

/* sens_kind_name - "email", "phone", "card", "national_id", "iban", "secret"; NULL if <k> is
 * not exactly one known kind. */
const char *sens_kind_name(enum sens_kind k);

/* sens_secret_name - "aws_key_id", "aws_secret", "github", "slack", "stripe", "google_oauth",
 * "private_key", "jwt", "password", "db_url"; NULL if <s> is not exactly one known secret. */
const char *sens_secret_name(enum sens_secret s);

/* sens_kinds_parse - a list of kind names separated by ',' or '+' (blanks around words ignored),
 * or "all", "none", "pii" (every PII kind), into <mask>. An empty list or unknown word fails
 * with -EINVAL and a message naming the word; <mask> is left untouched on error. */
int sens_kinds_parse(const char *list, uint32_t *mask, char *err, size_t errlen);

/* sens_kinds_render - <mask> as "email+card" ("none" for no known kind) into <out> (<cap>
 * bytes, always NUL-terminated when cap > 0). Returns the length the full text needs, like
 * snprintf: a result >= cap means it was truncated. Unknown bits are ignored. */
size_t sens_kinds_render(uint32_t mask, char *out, size_t cap);

#endif
