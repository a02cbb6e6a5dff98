/* sens_scan: the detector patterns, their one Hyperscan database (block mode, start of match
 * reported), the per-thread scratch, and the scan: each Hyperscan candidate is re-checked in C
 * (sens_pii.c, sens_secret.c), kept only inside JSON string values when the body is JSON, and
 * counted once however many patterns or end offsets report it. Owns the database and scratch;
 * borrows the scanned text for the duration of sens_scan(). Never allocates while scanning. */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "errfmt.h"
#include "sens_int.h"

/* How far past Hyperscan's leftmost start a token may begin: the longest escape (\uXXXX) that
 * the pattern's character class swallowed, plus slack. */
#define SENS_MAX_SHIFT 8

struct sens_pattern {
	const char *re;
	unsigned hs_flags;
	uint32_t kind;
	uint32_t secret;
	bool (*cont)(unsigned char); /* bytes that, just before a start, continue a longer word */
	sens_check_fn check;
	/* where to start looking for the token when the pattern matches only its tail */
	size_t (*widen)(const struct sens_text *t, size_t from);
};

static bool cont_alnum(unsigned char c)
{
	return sens_is_alnum(c);
}

/* The email pattern starts at '@' (a leading character class would cost Hyperscan most of its
 * speed): the local part is the run of address characters before it, at most 64 long. */
static size_t widen_email(const struct sens_text *t, size_t at)
{
	size_t s = at;

	while (s > 0 && at - s < 64 + SENS_MAX_SHIFT && sens_is_email_local(sens_at(t, s - 1)))
		s--;
	return s;
}

/* Hyperscan finds candidates loosely; the checks decide. Every pattern asks for the start of
 * match; Hyperscan refuses large bounded repeats with it, so Slack and JWT match a prefix and
 * their checks read on. A trailing \b (where a token always ends on a word character) keeps
 * Hyperscan from reporting every shorter end inside a token or a run of tokens, which is most
 * of its cost on dense input; the left edge is the checks' business, because of escapes. */
static const struct sens_pattern sens_patterns[] = {
	/* PII */
	{ .re = "@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,24}\\b",
	  .kind = SENS_EMAIL, .cont = sens_is_email_local, .check = sens_check_email, .widen = widen_email },
	{ .re = "\\+[1-9][0-9 ().-]{5,24}[0-9]\\b",
	  .kind = SENS_PHONE, .cont = sens_is_word, .check = sens_check_phone_intl },
	{ .re = "(?:1[ .-]?)?(?:\\([2-9][0-9]{2}\\)[ -]?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-]"
		"[0-9]{4}\\b",
	  .kind = SENS_PHONE, .cont = sens_is_word, .check = sens_check_phone_nanp },
	{ .re = "0[1-9][0-9]{1,3}[ -][0-9]{3,6}(?:[ -][0-9]{3,4})?\\b",
	  .kind = SENS_PHONE, .cont = sens_is_word, .check = sens_check_phone_uk },
	{ .re = "0[1-9](?:[ .-][0-9]{2}){4}\\b",
	  .kind = SENS_PHONE, .cont = sens_is_word, .check = sens_check_phone_fr },
	{ .re = "(?:[0-9]{13,19}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}(?:[ -][0-9]{3})?|"
		"[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})\\b",
	  .kind = SENS_CARD, .cont = sens_is_word, .check = sens_check_card },
	{ .re = "[0-9]{3}-[0-9]{2}-[0-9]{4}\\b",
	  .kind = SENS_NATIONAL_ID, .cont = sens_is_word, .check = sens_check_ssn },
	{ .re = "[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\\b",
	  .kind = SENS_NATIONAL_ID, .cont = sens_is_word, .check = sens_check_nino },
	{ .re = "[1278] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[AB]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}\\b",
	  .kind = SENS_NATIONAL_ID, .cont = sens_is_word, .check = sens_check_nir },
	{ .re = "[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\\b",
	  .kind = SENS_IBAN, .cont = sens_is_word, .check = sens_check_iban },
	/* secrets */
	{ .re = "(?:AKIA|ASIA)[A-Z0-9]{16}\\b", .kind = SENS_SECRET,
	  .secret = SENS_SECRET_AWS_KEY_ID, .cont = sens_is_word, .check = sens_check_aws_key_id },
	{ .re = "(?:aws_?)?secret_?access_?key(?:\\\\?[\"'])?[ \\t]*(?::=|[:=])[ \\t]*"
		"(?:\\\\?[\"'])?[A-Za-z0-9/+]{40}",
	  .hs_flags = HS_FLAG_CASELESS, .kind = SENS_SECRET, .secret = SENS_SECRET_AWS_SECRET,
	  .cont = cont_alnum, .check = sens_check_aws_secret },
	{ .re = "(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\\b", .kind = SENS_SECRET,
	  .secret = SENS_SECRET_GITHUB, .cont = sens_is_word, .check = sens_check_github },
	{ .re = "xox[abpr]-[0-9A-Za-z]{1,20}-", .kind = SENS_SECRET,
	  .secret = SENS_SECRET_SLACK, .cont = sens_is_word, .check = sens_check_slack },
	{ .re = "[sr]k_live_[0-9A-Za-z]{20,247}\\b", .kind = SENS_SECRET,
	  .secret = SENS_SECRET_STRIPE, .cont = sens_is_word, .check = sens_check_stripe },
	{ .re = "GOCSPX-[A-Za-z0-9_-]{28}", .kind = SENS_SECRET,
	  .secret = SENS_SECRET_GOOGLE_OAUTH, .cont = sens_is_b64url,
	  .check = sens_check_google_oauth },
	{ .re = "-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----", .kind = SENS_SECRET,
	  .secret = SENS_SECRET_PRIVATE_KEY, .cont = cont_alnum, .check = sens_check_private_key },
	{ .re = "eyJ[A-Za-z0-9_-]{6,}\\.", .kind = SENS_SECRET,
	  .secret = SENS_SECRET_JWT, .cont = sens_is_b64url, .check = sens_check_jwt },
	{ .re = "(?:password|passwort|passwd|passphrase|pwd|kennwort|mot de passe)"
		"(?:\\\\?[\"'])?[ \\t]*(?::=|[:=])[ \\t]*",
	  .hs_flags = HS_FLAG_CASELESS, .kind = SENS_SECRET, .secret = SENS_SECRET_PASSWORD,
	  .cont = cont_alnum, .check = sens_check_password },
	{ .re = "(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|rediss?|amqps?|mssql|"
		"sqlserver|cockroachdb|clickhouse)(?:\\+[a-z0-9]+)?://"
		"[^\\s:/@\"'\\\\]{0,64}:[^\\s/@\"'\\\\]{1,128}@",
	  .hs_flags = HS_FLAG_CASELESS, .kind = SENS_SECRET, .secret = SENS_SECRET_DB_URL,
	  .cont = cont_alnum, .check = sens_check_db_url },
};

#define SENS_NPATTERNS (sizeof(sens_patterns) / sizeof(sens_patterns[0]))

/* Recent occurrences remembered per kind to count each once (reports arrive nearly in order). */
#define SENS_RECENT 8
/* JSON string-state checkpoints: lets a candidate behind the walk be placed without rewalking
 * the body from its start (the fuzz target shrinks them to reach the checkpoint paths). */
#ifndef SENS_JSON_CKPTS
#define SENS_JSON_CKPTS 4096
#endif
#ifndef SENS_JSON_MIN_STEP
#define SENS_JSON_MIN_STEP 256
#endif

struct sens_db {
	hs_database_t *hs;
};

/* Where the JSON string walk stands: state before byte <pos>, bit 0 = inside a string,
 * bit 1 = the previous byte was an escaping backslash. ck[k] = state before byte k * step. */
struct sens_jwalk {
	size_t pos, step, nck;
	uint8_t state;
	uint8_t ck[SENS_JSON_CKPTS];
};

struct sens_scratch {
	const struct sens_db *db;
	hs_scratch_t *hs;
	bool busy; /* a scan is in progress (atomic test-and-set) */
	/* state of the scan in progress */
	struct sens_text text;
	size_t base; /* offset of the segment being scanned in <text> */
	uint32_t enabled;
	bool json;
	struct sens_report *out;
	struct sens_jwalk walk;
	struct sens_span recent[SENS_NKINDS][SENS_RECENT];
	uint8_t nrecent[SENS_NKINDS], rnext[SENS_NKINDS];
};

int sens_db_new(struct sens_db **out, char *err, size_t errlen)
{
	const char *res[SENS_NPATTERNS];
	unsigned flags[SENS_NPATTERNS], ids[SENS_NPATTERNS];
	hs_compile_error_t *cerr = NULL;
	struct sens_db *db;
	int rc;

	if (!out)
		return err_fmt(err, errlen, -EINVAL, "sens_db_new: no output pointer");
	*out = NULL;
	for (unsigned i = 0; i < SENS_NPATTERNS; i++) {
		res[i] = sens_patterns[i].re;
		flags[i] = sens_patterns[i].hs_flags | HS_FLAG_SOM_LEFTMOST;
		ids[i] = i;
	}
	db = calloc(1, sizeof(*db));
	if (!db)
		return err_fmt(err, errlen, -ENOMEM, "sens: out of memory");
	rc = hs_compile_multi(res, flags, ids, SENS_NPATTERNS, HS_MODE_BLOCK, NULL, &db->hs, &cerr);
	if (rc != HS_SUCCESS) {
		rc = err_fmt(err, errlen, -EINVAL, "sens: compiling detector pattern %d: %s",
			     cerr ? cerr->expression : -1, cerr ? cerr->message : "unknown error");
		hs_free_compile_error(cerr);
		free(db);
		return rc;
	}
	*out = db;
	return 0;
}

void sens_db_free(struct sens_db *db)
{
	if (!db)
		return;
	hs_free_database(db->hs);
	free(db);
}

int sens_scratch_new(const struct sens_db *db, struct sens_scratch **out, char *err,
		     size_t errlen)
{
	struct sens_scratch *s;
	hs_error_t rc;

	if (!db || !out)
		return err_fmt(err, errlen, -EINVAL, "sens_scratch_new: missing database or output");
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_fmt(err, errlen, -ENOMEM, "sens: out of memory");
	rc = hs_alloc_scratch(db->hs, &s->hs);
	if (rc != HS_SUCCESS) {
		free(s);
		return err_fmt(err, errlen, rc == HS_NOMEM ? -ENOMEM : -EIO,
			       "sens: allocating scan scratch failed (hyperscan error %d)", rc);
	}
	s->db = db;
	*out = s;
	return 0;
}

void sens_scratch_free(struct sens_scratch *s)
{
	if (!s)
		return;
	hs_free_scratch(s->hs);
	free(s);
}

/* ---- JSON string state ---- */

/* Advances JSON string state <st> over bytes [i, to). */
static uint8_t jwalk_run(const char *p, size_t i, size_t to, uint8_t st)
{
	while (i < to) {
		if (!(st & 1)) {
			const char *q = memchr(p + i, '"', to - i);

			if (!q)
				return st;
			i = (size_t)(q - p) + 1;
			st = 1;
		} else if (st & 2) {
			st = 1;
			i++;
		} else {
			while (i < to && p[i] != '"' && p[i] != '\\')
				i++;
			if (i == to)
				return st;
			st = p[i] == '"' ? 0 : 3;
			i++;
		}
	}
	return st;
}

static void jwalk_init(struct sens_jwalk *w, size_t len)
{
	w->pos = 0;
	w->state = 0;
	w->step = len / SENS_JSON_CKPTS + 1;
	if (w->step < SENS_JSON_MIN_STEP)
		w->step = SENS_JSON_MIN_STEP;
	w->ck[0] = 0;
	w->nck = 1;
}

/* Whether byte <q> lies inside a JSON string. The walk moves forward only; a position behind it
 * is placed from the nearest checkpoint, so the whole scan walks the body about once. */
static bool in_json_string(const struct sens_text *t, struct sens_jwalk *w, size_t q)
{
	size_t k;

	while (w->pos < q) {
		size_t stop = q, next_ck = w->nck * w->step;

		if (w->nck < SENS_JSON_CKPTS && next_ck < stop)
			stop = next_ck;
		w->state = jwalk_run(t->p, w->pos, stop, w->state);
		w->pos = stop;
		if (w->nck < SENS_JSON_CKPTS && w->pos == next_ck)
			w->ck[w->nck++] = w->state;
	}
	if (q == w->pos)
		return w->state & 1;
	k = q / w->step;
	if (k >= w->nck)
		k = w->nck - 1;
	return jwalk_run(t->p, k * w->step, q, w->ck[k]) & 1;
}

/* A body is JSON when its first non-blank byte opens an object or array. */
static bool looks_like_json(const char *p, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < len && (p[i] == '{' || p[i] == '[');
}

/* ---- counting ---- */

/* Whether <sp> overlaps an occurrence of kind slot <k> already counted; remembers it if not. */
static bool already_counted(struct sens_scratch *s, unsigned k, struct sens_span sp)
{
	for (unsigned i = 0; i < s->nrecent[k]; i++) {
		const struct sens_span *r = &s->recent[k][i];

		if (sp.s < r->e && r->s < sp.e)
			return true;
	}
	s->recent[k][s->rnext[k]] = sp;
	s->rnext[k] = (uint8_t)((s->rnext[k] + 1) % SENS_RECENT);
	if (s->nrecent[k] < SENS_RECENT)
		s->nrecent[k]++;
	return false;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct sens_scratch *s = ctx;
	const struct sens_pattern *pat = &sens_patterns[id];
	size_t end = (size_t)to;

	(void)flags;
	if (!(s->enabled & pat->kind))
		return 0;
	from += s->base;
	end += s->base;
	if (pat->widen)
		from = pat->widen(&s->text, (size_t)from);
	for (size_t st = (size_t)from; st < end && st <= (size_t)from + SENS_MAX_SHIFT; st++) {
		struct sens_span span;
		unsigned k;

		if (!sens_left_ok(&s->text, st, pat->cont) || !pat->check(&s->text, st, end, &span))
			continue;
		if (s->json && !in_json_string(&s->text, &s->walk, span.s))
			return 0;
		k = sens_kind_index((enum sens_kind)pat->kind);
		if (already_counted(s, k, span))
			return 0;
		if (s->out->count[k] < UINT32_MAX)
			s->out->count[k]++;
		s->out->kinds |= pat->kind;
		s->out->secrets |= pat->secret;
		return 0;
	}
	return 0;
}

/* Bytes of base64 (and hex, and long alphanumeric ids): a run of SENS_BLOB_MIN of them is an
 * encoded blob (an image, a file) that no detector can fire inside: every detection needs a
 * boundary byte outside this class on its left, and keys and values are shorter. */
#define SENS_BLOB_MIN 256

static const uint8_t blob_byte[256] = {
	['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['+'] = 1, ['/'] = 1, ['='] = 1,
};

static hs_error_t scan_segment(const struct sens_db *db, struct sens_scratch *s, size_t from,
			       size_t to)
{
	if (to <= from)
		return HS_SUCCESS;
	s->base = from;
	return hs_scan(db->hs, s->text.p + from, (unsigned int)(to - from), 0, s->hs, on_match, s);
}

/* Scans the text around its blobs: multimodal bodies are mostly base64, which Hyperscan would
 * otherwise read at a fraction of its speed on text. */
static hs_error_t scan_segments(const struct sens_db *db, struct sens_scratch *s)
{
	const unsigned char *p = (const unsigned char *)s->text.p;
	size_t len = s->text.len, seg = 0, i = 0;
	hs_error_t rc;

	while (i < len) {
		size_t run;

		if (!blob_byte[p[i]]) {
			i++;
			continue;
		}
		run = i;
		while (i < len && blob_byte[p[i]])
			i++;
		if (i - run >= SENS_BLOB_MIN) {
			rc = scan_segment(db, s, seg, run);
			if (rc != HS_SUCCESS)
				return rc;
			seg = i;
		}
	}
	return scan_segment(db, s, seg, len);
}

int sens_scan(const struct sens_db *db, struct sens_scratch *s, uint32_t enabled,
	      const char *text, size_t len, struct sens_report *out)
{
	hs_error_t rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!db || !s || s->db != db || (!text && len))
		return -EINVAL;
	if (len > UINT_MAX)
		return -E2BIG;
	enabled &= SENS_ALL_MASK;
	if (!enabled || len == 0)
		return 0;
	/* Catches a scratch shared between threads before its scan state is overwritten. */
	if (__atomic_test_and_set(&s->busy, __ATOMIC_ACQUIRE))
		return -EBUSY;
	s->text.p = text;
	s->text.len = len;
	s->enabled = enabled;
	s->json = looks_like_json(text, len);
	s->out = out;
	jwalk_init(&s->walk, len);
	memset(s->nrecent, 0, sizeof(s->nrecent));
	memset(s->rnext, 0, sizeof(s->rnext));
	rc = scan_segments(db, s);
	s->out = NULL;
	s->text.p = NULL;
	__atomic_clear(&s->busy, __ATOMIC_RELEASE);
	if (rc != HS_SUCCESS) {
		memset(out, 0, sizeof(*out));
		return rc == HS_SCRATCH_IN_USE ? -EBUSY : -EIO;
	}
	return 0;
}
