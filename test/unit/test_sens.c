/* test_sens: the PII and secret detectors through their public API (sens.h) and the validation
 * math through sens_int.h: each detector's positives and near misses, as plain text and inside a
 * JSON request body (escapes as boundaries, JSON structure ignored), counting, `enabled`
 * masking, kind lists, scratch reuse and two threads scanning at once.
 * Secrets are assembled at run time from pieces so that no secret scanner flags this file. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sens.h"
#include "sens_int.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct sens_db *db;
static struct sens_scratch *scr;

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (sens_db_new(&db, err, sizeof(err)) != 0) {
		fprintf(stderr, "sens_db_new: %s\n", err);
		return -1;
	}
	return sens_scratch_new(db, &scr, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	sens_scratch_free(scr);
	sens_db_free(db);
	return 0;
}

static struct sens_report scan_mask(uint32_t enabled, const char *text, size_t len)
{
	struct sens_report r;

	assert_int_equal(sens_scan(db, scr, enabled, text, len, &r), 0);
	/* the report is consistent: kinds is exactly the kinds counted */
	for (unsigned k = 0; k < SENS_NKINDS; k++)
		assert_int_equal(!!(r.kinds & (1u << k)), r.count[k] > 0);
	return r;
}

static struct sens_report scan(const char *text)
{
	return scan_mask(SENS_ALL_MASK, text, strlen(text));
}

/* <prompt> as the user message of an OpenAI chat body, JSON-escaped like a client would. */
static char *json_body(const char *prompt)
{
	static const char head[] = "{\"model\":\"gpt-4o\",\"max_tokens\":4096,\"messages\":"
				   "[{\"role\":\"user\",\"content\":\"";
	static const char tail[] = "\"}],\"temperature\":0.7}";
	size_t n = strlen(prompt), o;
	char *out = malloc(sizeof(head) + n * 6 + sizeof(tail));

	assert_non_null(out);
	memcpy(out, head, sizeof(head) - 1);
	o = sizeof(head) - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)prompt[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else if (c < 0x20) {
			o += (size_t)sprintf(out + o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	memcpy(out + o, tail, sizeof(tail));
	return out;
}

/* The count of <kind> in <text>, which must be the same as plain text and inside a JSON body. */
static unsigned count_both(enum sens_kind kind, const char *text)
{
	struct sens_report plain = scan(text), in_json;
	char *body = json_body(text);

	in_json = scan(body);
	free(body);
	if (plain.count[sens_kind_index(kind)] != in_json.count[sens_kind_index(kind)])
		fail_msg("\"%s\": %u as text, %u inside JSON", text,
			 plain.count[sens_kind_index(kind)], in_json.count[sens_kind_index(kind)]);
	return plain.count[sens_kind_index(kind)];
}

struct expect {
	const char *text;
	unsigned count;
};

static void check_table(enum sens_kind kind, const struct expect *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned got = count_both(kind, cases[i].text);

		if (got != cases[i].count)
			fail_msg("%s in \"%s\": expected %u, found %u", sens_kind_name(kind),
				 cases[i].text, cases[i].count, got);
	}
}

/* ---- lifecycle and arguments ---- */

static void test_arguments(void **state)
{
	struct sens_scratch *other = NULL;
	struct sens_db *db2 = NULL;
	struct sens_report r;
	char err[256];

	(void)state;
	assert_int_equal(sens_db_new(NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sens"));
	assert_int_equal(sens_scratch_new(NULL, &other, err, sizeof(err)), -EINVAL);
	assert_int_equal(sens_scratch_new(db, NULL, NULL, 0), -EINVAL);
	assert_int_equal(sens_scan(db, scr, SENS_ALL_MASK, "x", 1, NULL), -EINVAL);
	r.kinds = 77;
	assert_int_equal(sens_scan(NULL, scr, SENS_ALL_MASK, "x", 1, &r), -EINVAL);
	assert_int_equal(r.kinds, 0); /* zeroed on error */
	assert_int_equal(sens_scan(db, NULL, SENS_ALL_MASK, "x", 1, &r), -EINVAL);
	assert_int_equal(sens_scan(db, scr, SENS_ALL_MASK, NULL, 1, &r), -EINVAL);
	assert_int_equal(sens_scan(db, scr, SENS_ALL_MASK, NULL, 0, &r), 0);
	assert_int_equal(sens_scan(db, scr, SENS_ALL_MASK, "x", (size_t)UINT_MAX + 1, &r), -E2BIG);

	/* a scratch belongs to the database it was made for */
	assert_int_equal(sens_db_new(&db2, err, sizeof(err)), 0);
	assert_int_equal(sens_scratch_new(db2, &other, err, sizeof(err)), 0);
	assert_int_equal(sens_scan(db, other, SENS_ALL_MASK, "bob@example.com", 15, &r), -EINVAL);
	assert_int_equal(sens_scan(db2, other, SENS_ALL_MASK, "bob@example.com", 15, &r), 0);
	assert_int_equal(r.count[sens_kind_index(SENS_EMAIL)], 1);
	sens_scratch_free(other);
	sens_db_free(db2);
	sens_scratch_free(NULL);
	sens_db_free(NULL);
}

/* ---- PII detectors ---- */

static void test_email(void **state)
{
	static const struct expect cases[] = {
		{ "mail bob@example.com now", 1 },
		{ "John.Doe+billing@mail.example.co.uk", 1 },
		{ "first_last99@example.org", 1 },
		{ "(alice@example.org), <carol@example.net>", 2 },
		{ "mailto:bob@example.io", 1 },
		{ "Email:bob@example.com", 1 },
		{ "BOB@EXAMPLE.COM", 1 },
		{ "bob@example.com.", 1 },
		{ "bob@example.com bob@example.com", 2 },
		{ "icon@2x.png and logo@3x.webp", 0 },
		{ "git clone git@github.com:acme/app.git", 0 },
		{ "user@localhost", 0 },
		{ "npm i @types/node", 0 },
		{ "lodash@4.17.21", 0 },
		{ "a@b.c", 0 },
		{ "bob..smith@example.com", 0 },
		{ "https://bob@example.com/path", 0 },
		{ "postgres://app:pw@db.example.com/x", 0 },
		{ "bob@-example.com", 0 },
		{ "bob@example.com@evil", 0 },
	};

	(void)state;
	check_table(SENS_EMAIL, cases, ARRAY_SIZE(cases));
}

static void test_phone(void **state)
{
	static const struct expect cases[] = {
		/* the formats the brief names */
		{ "(415) 555-0132", 1 },
		{ "415-555-0132", 1 },
		{ "+1 415 555 0132", 1 },
		{ "+44 20 7946 0958", 1 },
		{ "+33 1 23 45 67 89", 1 },
		{ "+49 30 123456", 1 },
		/* more of the same families */
		{ "call 415.555.0132 today", 1 },
		{ "415 555 0132", 1 },
		{ "1-800-555-0199", 1 },
		{ "+1 (415) 555-0132", 1 },
		{ "+1-415-555-0132", 1 },
		{ "+14155550132", 1 },
		{ "+44 (0)20 7946 0958", 1 },
		{ "020 7946 0958", 1 },
		{ "07700 900123", 1 },
		{ "0161 496 0000", 1 },
		{ "01 23 45 67 89", 1 },
		{ "06.12.34.56.78", 1 },
		{ "+81 3-1234-5678", 1 },
		{ "Tel: 415-555-0132, fax: 415-555-0133", 2 },
		/* not phones */
		{ "4155550132", 0 },
		{ "02079460958", 0 },
		{ "2024-05-01", 0 },
		{ "05/01/2024 12:30:45", 0 },
		{ "version 1.2.3 and v10.0.12", 0 },
		{ "192.168.100.200 and 10.0.0.1", 0 },
		{ "$1,234.56 or EUR 99,99", 0 },
		{ "415-555-013", 0 },
		{ "+1 415 555 013", 0 },
		{ "+1 115 555 0132", 0 },
		{ "(415) 155-0132", 0 },
		{ "123-456-7890", 0 },
		{ "555-0132", 0 },
		{ "415-555-0132-7", 0 },
		{ "3.415-555-0132", 0 },
		{ "01-23-45 67.89", 0 },
		{ "+1 2 3 4 5 6 7 8 9 0", 0 },
		{ "score 2024-2025, pages 100-120", 0 },
	};

	(void)state;
	check_table(SENS_PHONE, cases, ARRAY_SIZE(cases));
}

static void test_card(void **state)
{
	static const struct expect cases[] = {
		{ "4111 1111 1111 1111", 1 },
		{ "4111-1111-1111-1111", 1 },
		{ "card 4111111111111111.", 1 },
		{ "3782 822463 10005", 1 },
		{ "378282246310005", 1 },
		{ "5555555555554444", 1 },
		{ "2223 0031 2200 3222", 1 },
		{ "6011111111111117", 1 },
		{ "3056 930902 5904", 1 },
		{ "4111 1111 1111 1111 and 5555 5555 5555 4444", 2 },
		/* near misses */
		{ "4111 1111 1111 1112", 0 },       /* Luhn */
		{ "1234 5678 9012 3452", 0 },       /* no issuer starts with 1 */
		{ "4111 1111 1111 111 1", 0 },      /* not a card grouping */
		{ "4111 1111-1111 1111", 0 },       /* mixed separators */
		{ "9400 4111 1111 1111 1111 12", 0 }, /* inside a longer grouped number */
		{ "3.4111111111111111", 0 },        /* a fraction */
		{ "x4111111111111111", 0 },
		{ "41111111111111111111", 0 },      /* 20 digits */
		{ "411111111111111", 0 },           /* 15 digits: Visa is 13, 16 or 19 */
		{ "378282246310005 1", 1 },
	};

	(void)state;
	check_table(SENS_CARD, cases, ARRAY_SIZE(cases));
}

static void test_national_id(void **state)
{
	static const struct expect cases[] = {
		/* US SSN */
		{ "SSN 123-45-6789", 1 },
		{ "ssn=078-05-1120;", 1 },
		{ "000-12-3456", 0 },
		{ "666-12-3456", 0 },
		{ "900-12-3456", 0 },
		{ "123-00-4567", 0 },
		{ "123-45-0000", 0 },
		{ "123-45-67890", 0 },
		{ "1123-45-6789", 0 },
		{ "123456789", 0 },
		/* UK NINO */
		{ "NI AB 12 34 56 C", 1 },
		{ "AB123456C", 1 },
		{ "JG103759A.", 1 },
		{ "QQ 12 34 56 C", 0 }, /* Q is never a first letter */
		{ "DA123456C", 0 },
		{ "AO123456C", 0 },     /* O is never a second letter */
		{ "GB123456A", 0 },     /* unallocated prefix */
		{ "AB123456E", 0 },     /* suffix A-D only */
		{ "AB 12 3456 C", 0 },  /* spaces all or none */
		{ "AB123456CD", 0 },
		{ "ab123456c", 0 },
		/* French NIR */
		{ "1 84 12 76 451 089 46", 1 },
		{ "184127645108946", 1 },
		{ "2 90 05 2A 004 123 52", 1 }, /* Corsica counts as 19 */
		{ "2 90 05 2B 004 123 79", 1 }, /* and 2B as 18 */
		{ "1 69 12 99 123 456 30", 1 },
		{ "1 84 12 76 451 089 47", 0 }, /* key */
		{ "184137645108946", 0 },       /* month 13 */
		{ "3 84 12 76 451 089 46", 0 }, /* sex digit */
		{ "1 84 12 76 451 08946", 0 },  /* spacing */
	};

	(void)state;
	check_table(SENS_NATIONAL_ID, cases, ARRAY_SIZE(cases));
}

static void test_iban(void **state)
{
	static const struct expect cases[] = {
		{ "DE89 3704 0044 0532 0130 00", 1 },
		{ "DE89370400440532013000", 1 },
		{ "GB82 WEST 1234 5698 7654 32", 1 },
		{ "FR14 2004 1010 0505 0001 3M02 606", 1 },
		{ "NO93 8601 1117 947", 1 },
		{ "MT84 MALT 0110 0001 2345 MTLC AST0 01S", 1 },
		{ "iban=DE89370400440532013000&x=1", 1 },
		{ "DE89 3704 0044 0532 0130 01", 0 }, /* mod 97 */
		{ "XX89 3704 0044 0532 0130 00", 0 }, /* country */
		{ "DE89 3704 0044 0532 0130", 0 },    /* length */
		{ "DE8937040044053201300", 0 },
		{ "DE89 37040044 0532 0130 00", 0 },  /* groups of four */
		{ "de89370400440532013000", 0 },
		{ "XDE89370400440532013000", 0 },
	};

	(void)state;
	check_table(SENS_IBAN, cases, ARRAY_SIZE(cases));
}

/* ---- secrets ---- */

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char BASE32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* <n> pseudo-random characters of <alphabet>, mixing cases and digits. */
static char *rnd(char *buf, const char *alphabet, size_t n)
{
	static uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t a = strlen(alphabet);

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = alphabet[x % a];
	}
	if (n >= 3 && a >= 62) {
		buf[0] = 'Q';
		buf[1] = 'q';
		buf[2] = '7';
	}
	buf[n] = 0;
	return buf;
}

static void b64url_encode(const char *in, char *out)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(in), o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tbl[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tbl[v & 63];
	}
	out[o] = 0;
}

#define JWT_CAP 512

static void make_jwt(char out[JWT_CAP], const char *header_json)
{
	char h[128], p[128], sig[64];

	b64url_encode(header_json, h);
	b64url_encode("{\"sub\":\"1234567890\",\"name\":\"Jane\",\"iat\":1716239022}", p);
	snprintf(out, JWT_CAP, "%s.%s.%s", h, p, rnd(sig, ALNUM, 43));
}

/* Scans <text> expecting <count> secrets, the last of type <type> (0: none). */
static void expect_secret(const char *text, unsigned count, uint32_t type)
{
	struct sens_report r;
	char *body = json_body(text);

	r = scan(text);
	if (r.count[sens_kind_index(SENS_SECRET)] != count || (count && !(r.secrets & type)))
		fail_msg("secret in \"%.60s...\": expected %u (type %#x), found %u (types %#x)", text,
			 count, type, r.count[sens_kind_index(SENS_SECRET)], r.secrets);
	r = scan(body);
	free(body);
	if (r.count[sens_kind_index(SENS_SECRET)] != count || (count && !(r.secrets & type)))
		fail_msg("secret in JSON \"%.60s...\": expected %u, found %u", text, count,
			 r.count[sens_kind_index(SENS_SECRET)]);
	if (!count)
		assert_int_equal(r.secrets, 0);
}

static void test_secret_tokens(void **state)
{
	char text[1024], body[128], body2[128];

	(void)state;
	/* AWS access key id */
	snprintf(text, sizeof(text), "aws_access_key_id = %s%s", "AK" "IA", rnd(body, BASE32, 16));
	expect_secret(text, 1, SENS_SECRET_AWS_KEY_ID);
	snprintf(text, sizeof(text), "%s%s", "AS" "IA", rnd(body, BASE32, 16));
	expect_secret(text, 1, SENS_SECRET_AWS_KEY_ID);
	snprintf(text, sizeof(text), "%s%s", "AK" "IA", "XXXXXXXXXXXXXXXX");
	expect_secret(text, 0, 0);
	snprintf(text, sizeof(text), "x%s%s", "AK" "IA", rnd(body, BASE32, 16));
	expect_secret(text, 0, 0);
	snprintf(text, sizeof(text), "%s%sQ", "AK" "IA", rnd(body, BASE32, 16));
	expect_secret(text, 0, 0);

	/* AWS secret access key, only in its assignment */
	rnd(body, ALNUM, 40);
	body[10] = '/';
	body[20] = '+';
	snprintf(text, sizeof(text), "aws_secret_access_key = %s", body);
	expect_secret(text, 1, SENS_SECRET_AWS_SECRET);
	snprintf(text, sizeof(text), "export AWS_SECRET_ACCESS_KEY=\"%s\"", body);
	expect_secret(text, 1, SENS_SECRET_AWS_SECRET);
	snprintf(text, sizeof(text), "{\"SecretAccessKey\": \"%s\"}", body);
	expect_secret(text, 1, SENS_SECRET_AWS_SECRET);
	snprintf(text, sizeof(text), "the value %s alone", body);
	expect_secret(text, 0, 0);
	snprintf(text, sizeof(text), "aws_secret_access_key = %sA", body); /* 41 characters */
	expect_secret(text, 0, 0);
	expect_secret("aws_secret_access_key = os.environ['AWS_SECRET_ACCESS_KEY']", 0, 0);

	/* GitHub */
	snprintf(text, sizeof(text), "GITHUB_TOKEN=%s%s", "gh" "p_", rnd(body, ALNUM, 36));
	expect_secret(text, 1, SENS_SECRET_GITHUB);
	snprintf(text, sizeof(text), "token %s%s", "gh" "s_", rnd(body, ALNUM, 36));
	expect_secret(text, 1, SENS_SECRET_GITHUB);
	snprintf(text, sizeof(text), "%s%s_%s", "github" "_pat_", rnd(body, ALNUM, 22),
		 rnd(body2, ALNUM, 59));
	expect_secret(text, 1, SENS_SECRET_GITHUB);
	snprintf(text, sizeof(text), "%s%s", "gh" "p_", "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
	expect_secret(text, 0, 0);
	snprintf(text, sizeof(text), "%s%s7", "gh" "p_", rnd(body, ALNUM, 36)); /* 37 */
	expect_secret(text, 0, 0);

	/* Slack */
	snprintf(text, sizeof(text), "SLACK_BOT_TOKEN=%s12345678901-1234567890123-%s", "xo" "xb-",
		 rnd(body, ALNUM, 24));
	expect_secret(text, 1, SENS_SECRET_SLACK);
	snprintf(text, sizeof(text), "%syour-bot-token-here", "xo" "xb-");
	expect_secret(text, 0, 0);

	/* Stripe live keys (test keys are not) */
	snprintf(text, sizeof(text), "stripe.api_key = \"%s%s\"", "sk_" "live_", rnd(body, ALNUM, 24));
	expect_secret(text, 1, SENS_SECRET_STRIPE);
	snprintf(text, sizeof(text), "%s%s", "rk_" "live_", rnd(body, ALNUM, 99));
	expect_secret(text, 1, SENS_SECRET_STRIPE);
	snprintf(text, sizeof(text), "%s%s", "sk_" "test_", rnd(body, ALNUM, 24));
	expect_secret(text, 0, 0);

	/* Google OAuth client secret */
	snprintf(text, sizeof(text), "\"client_secret\": \"%s%s\"", "GOC" "SPX-", rnd(body, ALNUM, 28));
	expect_secret(text, 1, SENS_SECRET_GOOGLE_OAUTH);
	snprintf(text, sizeof(text), "%s%s", "GOC" "SPX-", rnd(body, ALNUM, 20));
	expect_secret(text, 0, 0);
}

static void test_secret_pem(void **state)
{
	char text[1024], line[80];

	(void)state;
	snprintf(text, sizeof(text), "-----BEGIN %s-----\n%s\n%s\n-----END RSA PRIVATE KEY-----",
		 "RSA PRIVATE" " KEY", rnd(line, ALNUM, 64), "AQAB");
	expect_secret(text, 1, SENS_SECRET_PRIVATE_KEY);
	snprintf(text, sizeof(text), "-----BEGIN %s-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: "
		 "AES-128-CBC,0123456789ABCDEF\n\n%s\n", "RSA PRIVATE" " KEY", rnd(line, ALNUM, 64));
	expect_secret(text, 1, SENS_SECRET_PRIVATE_KEY);
	snprintf(text, sizeof(text), "-----BEGIN %s-----\n%s", "OPENSSH PRIVATE" " KEY",
		 rnd(line, ALNUM, 70));
	expect_secret(text, 1, SENS_SECRET_PRIVATE_KEY);
	snprintf(text, sizeof(text), "-----BEGIN %s-----\n%s", "PGP PRIVATE" " KEY BLOCK",
		 rnd(line, ALNUM, 64));
	expect_secret(text, 1, SENS_SECRET_PRIVATE_KEY);
	/* a mention, a public key, a certificate, an empty block */
	snprintf(text, sizeof(text), "a key file starts with -----BEGIN %s----- and ends with END.",
		 "PRIVATE" " KEY");
	expect_secret(text, 0, 0);
	snprintf(text, sizeof(text), "-----BEGIN PUBLIC KEY-----\n%s\n", rnd(line, ALNUM, 64));
	expect_secret(text, 0, 0);
	snprintf(text, sizeof(text), "-----BEGIN CERTIFICATE-----\n%s\n", rnd(line, ALNUM, 64));
	expect_secret(text, 0, 0);
	snprintf(text, sizeof(text), "-----BEGIN %s-----\n...\n-----END PRIVATE KEY-----",
		 "PRIVATE" " KEY");
	expect_secret(text, 0, 0);
}

static void test_secret_jwt(void **state)
{
	char jwt[JWT_CAP], text[600], h[128];

	(void)state;
	make_jwt(jwt, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	snprintf(text, sizeof(text), "Authorization: Bearer %s", jwt);
	expect_secret(text, 1, SENS_SECRET_JWT);
	make_jwt(jwt, "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"k1\"}");
	expect_secret(jwt, 1, SENS_SECRET_JWT);
	/* unsigned ("alg":"none") tokens end with the second dot */
	b64url_encode("{\"alg\":\"none\"}", h);
	snprintf(text, sizeof(text), "%s.%s.", h, "eyJzdWIiOiIxMjM0In0");
	expect_secret(text, 1, SENS_SECRET_JWT);
	/* no "alg": not a JWT header */
	make_jwt(jwt, "{\"typ\":\"JWT\",\"foo\":\"bar\"}");
	expect_secret(jwt, 0, 0);
	/* base64 JSON without the dots, or two parts only */
	b64url_encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", h);
	expect_secret(h, 0, 0);
	snprintf(text, sizeof(text), "%s.%s", h, "eyJzdWIiOiIxMjM0In0");
	expect_secret(text, 0, 0);
	/* glued to a longer word */
	make_jwt(jwt, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	snprintf(text, sizeof(text), "x%s", jwt);
	expect_secret(text, 0, 0);
}

static void test_secret_password(void **state)
{
	static const struct expect cases[] = {
		{ "password = \"hunter2x\"", 1 },
		{ "DB_PASSWORD=S3cure_P4ss!", 1 },
		{ "{\"username\": \"svc\", \"password\": \"Xy7!kq2Lm\"}", 1 },
		{ "mysql -u admin --password=Tr0ub4dor&3 -h db", 1 },
		{ "spring.datasource.password=Summer2024!", 1 },
		{ "smtp:\n  passwd: 'c0rrect-h0rse'", 1 },
		{ "My login is bob and the password: Qwerty!234", 1 },
		{ "ADMIN_PWD := \"9f8e7d6c5b\"", 1 },
		{ "Passwort: Geheim123!", 1 },
		{ "mot de passe : Bonjour2024", 1 },
		{ "passphrase=correcthorsebatterystaple", 1 },
		{ "password = os.environ[\"DB_PASSWORD\"]", 0 },
		{ "def login(user: str, password: str) -> bool:", 0 },
		{ "if password == confirm_password:", 0 },
		{ "const password = process.env.DB_PASS;", 0 },
		{ "password: Optional[str] = Field(default=None)", 0 },
		{ "PASSWORD_MIN_LENGTH = 12", 0 },
		{ "{\"password\": \"<your password>\"}", 0 },
		{ "password=${DB_PASSWORD}", 0 },
		{ "password: ********", 0 },
		{ "password = getpass.getpass()", 0 },
		{ "password = config.db_password", 0 },
		{ "Reset your password: click the link", 0 },
		{ "The password: is it hashed?", 0 },
		{ "password=xxxxxxxx", 0 },
		{ "password: \"changeme\"", 0 },
		{ "password = \"abc\"", 0 },
		{ "passwordless: true", 0 },
		{ "mypassword=hunter2x", 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_secret(cases[i].text, cases[i].count, SENS_SECRET_PASSWORD);
}

static void test_secret_db_url(void **state)
{
	static const struct expect cases[] = {
		{ "postgres://admin:S3cret@db.example.com:5432/app", 1 },
		{ "DATABASE_URL=postgresql+psycopg2://app:pw-12345@10.0.4.12/orders", 1 },
		{ "mongodb+srv://root:Zx81Kq@cluster0.ab1cd.mongodb.net/test", 1 },
		{ "redis://:Cache-Pass-7@cache.local:6379/0", 1 },
		{ "mysql://root:pass@localhost/shop", 1 },
		{ "amqp://guest:guest@rabbit:5672/", 1 },
		{ "postgres://localhost:5432/app", 0 },
		{ "postgres://app@db.example.com/app", 0 },
		{ "postgres://${PGUSER}:${PGPASSWORD}@${PGHOST}/app", 0 },
		{ "f\"postgresql://{user}:{password}@{host}/app\"", 0 },
		{ "postgres://app:%s@%s/app", 0 },
		{ "https://user:pw@example.com/", 0 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_secret(cases[i].text, cases[i].count, SENS_SECRET_DB_URL);
}

/* ---- raw JSON bodies: escapes and structure ---- */

static void test_json_escapes_are_boundaries(void **state)
{
	struct sens_report r;

	(void)state;
	/* raw body bytes, exactly as a client sends them */
	r = scan("{\"content\":\"call\\n415-555-0132\\tor\\t(415) 555-0133\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_PHONE)], 2);
	r = scan("{\"content\":\"card:\\u00a04111111111111111\\u00a0exp\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_CARD)], 1);
	r = scan("{\"content\":\"\\\"bob@example.com\\\" wrote\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_EMAIL)], 1);
	r = scan("{\"content\":\"line1\\nbob@example.com\\nline3\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_EMAIL)], 1);
	r = scan("{\"content\":\"iban\\nDE89370400440532013000\\r\\nSSN\\t123-45-6789\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_IBAN)], 1);
	assert_int_equal(r.count[sens_kind_index(SENS_NATIONAL_ID)], 1);
	/* the escape's letter is not part of the token: a 64-byte local part (the maximum) */
	r = scan("{\"c\":\"\\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "@example.com\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_EMAIL)], 1);
	r = scan("{\"c\":\"xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "@example.com\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_EMAIL)], 0);
	/* an escaped backslash followed by "n": the decoded text is "\n415...", glued */
	r = scan("{\"content\":\"a\\\\n415-555-0132\"}");
	assert_int_equal(r.count[sens_kind_index(SENS_PHONE)], 0);
	/* URL-encoded separators */
	r = scan("tel=%2B44%2020%207946%200958&to=bob%40example.com&n=415-555-0132");
	assert_int_equal(r.count[sens_kind_index(SENS_PHONE)], 1);
}

static void test_json_structure_ignored(void **state)
{
	static const char *const bodies[] = {
		"{\"model\":\"gpt-4o\",\"max_tokens\":4096,\"seed\":4111111111111111,\"temperature\":0.7,"
		"\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}",
		"{\"seed\": 1234567890123, \"created\": 1714567890123, \"n\": 378282246310005}",
		"{\"user\":\"123e4567-e89b-12d3-a456-426614174000\",\"metadata\":{\"ts\":"
		"\"2024-05-01T12:34:56.789Z\",\"request_id\":\"9f86d081884c7d659a2feaa0c55ad015\"}}",
		"[4111111111111111, 5555555555554444, 6011111111111117]",
		"{\"logit_bias\":{\"50256\":-100,\"1234\":5},\"stop\":[\"\\n\\n\"],\"top_p\":0.95}",
		"{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"login\",\"parameters\":"
		"{\"type\":\"object\",\"properties\":{\"password\":{\"type\":\"string\"},\"email\":"
		"{\"type\":\"string\",\"format\":\"email\"}}}}}]}",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		struct sens_report r = scan(bodies[i]);

		if (r.kinds)
			fail_msg("structure-only body %zu reported %#x", i, r.kinds);
	}
	/* the same number inside a string is text, and a body that is not JSON is all text */
	assert_int_equal(scan("{\"n\": \"4111111111111111\"}").count[sens_kind_index(SENS_CARD)], 1);
	assert_int_equal(scan("n = 4111111111111111").count[sens_kind_index(SENS_CARD)], 1);
	assert_int_equal(scan("  \n{\"seed\": 4111111111111111}").count[sens_kind_index(SENS_CARD)], 0);
}

/* Cards inside strings and the same numbers as JSON numbers, spread over a large body so that
 * the JSON string state is looked up far behind and far ahead of where it was last placed. */
static void test_json_large_mixed_body(void **state)
{
	size_t cap = 2u << 20, n = 0;
	char *body = malloc(cap);
	unsigned in_strings = 0;
	struct sens_report r;

	(void)state;
	assert_non_null(body);
	n += (size_t)sprintf(body + n, "{\"messages\":[");
	for (unsigned i = 0; n < cap - 4096; i++) {
		if (i % 3 == 0) {
			n += (size_t)sprintf(body + n, "{\"content\":\"pay with 4111 1111 1111 1111 "
					     "\\\"quoted\\\" text\",\"seed\":5555555555554444},");
			in_strings++;
		} else {
			n += (size_t)sprintf(body + n, "{\"content\":\"%0*d\",\"n\":4111111111111111},",
					     (int)(i % 700) + 1, 7);
		}
	}
	n += (size_t)sprintf(body + n, "{}]}");
	r = scan_mask(SENS_ALL_MASK, body, n);
	assert_int_equal(r.count[sens_kind_index(SENS_CARD)], in_strings);
	assert_int_equal(r.kinds, SENS_CARD);
	free(body);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Base64 image data, as one long run and as MIME lines of 76, reports nothing. */
static void test_base64_blobs(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char head[] = "{\"messages\":[{\"role\":\"user\",\"content\":"
				   "[{\"type\":\"image_url\",\"image_url\":"
				   "{\"url\":\"data:image/png;base64,";
	size_t size = 400u << 10;
	char *body = malloc(size + 64);

	(void)state;
	assert_non_null(body);
	for (int round = 0; round < 8; round++) {
		size_t n = sizeof(head) - 1;
		struct sens_report r;

		memcpy(body, head, n);
		for (size_t col = 0; n < size; col++) {
			if (round % 2 && col % 76 == 75) {
				body[n++] = '\\';
				body[n++] = 'n';
			} else {
				body[n++] = b64[rng() & 63];
			}
		}
		n += (size_t)sprintf(body + n, "\"}}]}]}");
		r = scan_mask(SENS_ALL_MASK, body, n);
		if (r.kinds)
			fail_msg("base64 round %d reported %#x", round, r.kinds);
	}
	free(body);
}

/* ---- counting, masking, reuse ---- */

static void test_counting(void **state)
{
	struct sens_report r;

	(void)state;
	r = scan("bob@example.com, bob@example.com and alice@example.org");
	assert_int_equal(r.count[sens_kind_index(SENS_EMAIL)], 3);
	/* one number that two phone patterns both fit is one phone */
	r = scan("+1 415 555 0132");
	assert_int_equal(r.count[sens_kind_index(SENS_PHONE)], 1);
	r = scan("+1 (415) 555-0132 / 1-415-555-0133");
	assert_int_equal(r.count[sens_kind_index(SENS_PHONE)], 2);
	r = scan("nothing to see here");
	assert_int_equal(r.kinds, 0);
	assert_int_equal(r.secrets, 0);
	for (unsigned k = 0; k < SENS_NKINDS; k++)
		assert_int_equal(r.count[k], 0);
}

static void test_enabled_mask(void **state)
{
	char text[256], tok[64];
	struct sens_report r;
	size_t len;

	(void)state;
	snprintf(text, sizeof(text), "bob@example.com 4111 1111 1111 1111 %s%s DE89370400440532013000",
		 "gh" "p_", rnd(tok, ALNUM, 36));
	len = strlen(text);
	r = scan_mask(SENS_ALL_MASK, text, len);
	assert_int_equal(r.kinds, SENS_EMAIL | SENS_CARD | SENS_SECRET | SENS_IBAN);
	assert_int_equal(r.secrets, SENS_SECRET_GITHUB);
	assert_string_equal(sens_level(&r), "secret");
	r = scan_mask(SENS_EMAIL, text, len);
	assert_int_equal(r.kinds, SENS_EMAIL);
	assert_int_equal(r.count[sens_kind_index(SENS_CARD)], 0);
	assert_int_equal(r.secrets, 0);
	r = scan_mask(SENS_PII_MASK, text, len);
	assert_int_equal(r.kinds, SENS_EMAIL | SENS_CARD | SENS_IBAN);
	assert_string_equal(sens_level(&r), "pii");
	r = scan_mask(SENS_SECRET_MASK | 0xffff0000u, text, len); /* unknown bits ignored */
	assert_int_equal(r.kinds, SENS_SECRET);
	r = scan_mask(0, text, len);
	assert_int_equal(r.kinds, 0);
	assert_string_equal(sens_level(&r), "none");
}

static void test_scratch_reuse(void **state)
{
	const char *a = "{\"content\":\"bob@example.com 415-555-0132 4111111111111111\"}";
	struct sens_report first, second, again;

	(void)state;
	first = scan(a);
	assert_int_equal(first.kinds, SENS_EMAIL | SENS_PHONE | SENS_CARD);
	second = scan("{\"content\":\"nothing here, just 2024-05-01\"}");
	assert_int_equal(second.kinds, 0);
	again = scan(a);
	assert_memory_equal(&first, &again, sizeof(first));
	/* a shorter body after a longer one does not see the longer one's state */
	again = scan_mask(SENS_ALL_MASK, a, 27);
	assert_int_equal(again.count[sens_kind_index(SENS_EMAIL)], 1);
	assert_int_equal(again.kinds, SENS_EMAIL);
}

struct thread_arg {
	const char *text;
	struct sens_report expected;
	int failures;
};

static void *thread_main(void *p)
{
	struct thread_arg *arg = p;
	struct sens_scratch *own;
	char err[256];

	if (sens_scratch_new(db, &own, err, sizeof(err)) != 0) {
		arg->failures = -1;
		return NULL;
	}
	for (int i = 0; i < 300; i++) {
		struct sens_report r;

		if (sens_scan(db, own, SENS_ALL_MASK, arg->text, strlen(arg->text), &r) != 0 ||
		    memcmp(&r, &arg->expected, sizeof(r)) != 0)
			arg->failures++;
	}
	sens_scratch_free(own);
	return NULL;
}

static void test_two_threads(void **state)
{
	struct thread_arg args[2] = {
		{ .text = "{\"a\":\"bob@example.com, +44 20 7946 0958, AB 12 34 56 C\",\"b\":7}" },
		{ .text = "{\"a\":\"4111 1111 1111 1111 / DE89 3704 0044 0532 0130 00 / "
			  "password = \\\"hunter2x\\\"\"}" },
	};
	pthread_t th[2];

	(void)state;
	for (int i = 0; i < 2; i++) {
		args[i].expected = scan(args[i].text);
		assert_int_not_equal(args[i].expected.kinds, 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
}

/* ---- validation math ---- */

static void test_validation_math(void **state)
{
	(void)state;
	assert_true(sens_luhn_ok("79927398713", 11));
	assert_false(sens_luhn_ok("79927398710", 11));
	assert_true(sens_luhn_ok("0", 1));
	assert_false(sens_luhn_ok("", 0));
	assert_false(sens_luhn_ok("4111x11111111111", 16));

	assert_true(sens_card_iin_ok("4111111111111111", 16));
	assert_true(sens_card_iin_ok("4222222222222", 13));
	assert_false(sens_card_iin_ok("41111111111111111", 17)); /* Visa is 13, 16, 19 */
	assert_true(sens_card_iin_ok("2221000000000009", 16));
	assert_false(sens_card_iin_ok("2220990000000000", 16));
	assert_true(sens_card_iin_ok("378282246310005", 15));
	assert_false(sens_card_iin_ok("378282246310005", 14));
	assert_false(sens_card_iin_ok("1234567890123", 13));
	assert_false(sens_card_iin_ok("411111111111", 12));

	assert_int_equal(sens_mod97("1234567890", 10), 1234567890 % 97);
	assert_int_equal(sens_mod97("A", 1), 10);
	assert_int_equal(sens_mod97("Z9", 2), 359 % 97);
	assert_int_equal(sens_mod97("a", 1), -1);
	assert_true(sens_iban_ok("GB82WEST12345698765432", 22));
	assert_false(sens_iban_ok("GB82WEST12345698765433", 22));
	assert_false(sens_iban_ok("GB82WEST1234569876543", 21));
	assert_false(sens_iban_ok("ZZ82WEST12345698765432", 22));
	assert_int_equal(sens_iban_length("DE"), 22);
	assert_int_equal(sens_iban_length("NO"), 15);
	assert_int_equal(sens_iban_length("MT"), 31);
	assert_int_equal(sens_iban_length("US"), 0);

	assert_true(sens_ssn_ok("123456789"));
	assert_true(sens_ssn_ok("899990001"));
	assert_false(sens_ssn_ok("000456789"));
	assert_false(sens_ssn_ok("666456789"));
	assert_false(sens_ssn_ok("900456789"));
	assert_false(sens_ssn_ok("123006789"));
	assert_false(sens_ssn_ok("123450000"));

	assert_true(sens_nino_ok("AB123456C"));
	assert_true(sens_nino_ok("ZY123456D"));
	assert_false(sens_nino_ok("ZZ123456D"));
	assert_false(sens_nino_ok("TN123456A"));
	assert_false(sens_nino_ok("IA123456A"));
	assert_false(sens_nino_ok("AV123456A"));
	assert_false(sens_nino_ok("AB12345XA"));

	assert_true(sens_nir_ok("184127645108946"));
	assert_true(sens_nir_ok("290052A00412352"));
	assert_false(sens_nir_ok("290052A00412379")); /* the 2B key under 2A */
	assert_false(sens_nir_ok("184127645108947"));
	assert_false(sens_nir_ok("184007645108946")); /* month 00 */
	assert_false(sens_nir_ok("184120045108946")); /* department 00 */
	assert_false(sens_nir_ok("584127645108946")); /* sex 5 */
	assert_false(sens_nir_ok("184127600008946")); /* commune 000 */
}

/* ---- names, lists, levels ---- */

static void test_names_and_levels(void **state)
{
	struct sens_report r = { 0 };

	(void)state;
	assert_string_equal(sens_kind_name(SENS_EMAIL), "email");
	assert_string_equal(sens_kind_name(SENS_PHONE), "phone");
	assert_string_equal(sens_kind_name(SENS_CARD), "card");
	assert_string_equal(sens_kind_name(SENS_NATIONAL_ID), "national_id");
	assert_string_equal(sens_kind_name(SENS_IBAN), "iban");
	assert_string_equal(sens_kind_name(SENS_SECRET), "secret");
	assert_null(sens_kind_name((enum sens_kind)0));
	assert_null(sens_kind_name((enum sens_kind)(SENS_EMAIL | SENS_CARD)));
	assert_null(sens_kind_name((enum sens_kind)(1u << SENS_NKINDS)));
	assert_string_equal(sens_secret_name(SENS_SECRET_AWS_KEY_ID), "aws_key_id");
	assert_string_equal(sens_secret_name(SENS_SECRET_DB_URL), "db_url");
	assert_string_equal(sens_secret_name(SENS_SECRET_JWT), "jwt");
	assert_null(sens_secret_name((enum sens_secret)(1u << SENS_NSECRETS)));
	assert_null(sens_secret_name((enum sens_secret)0));

	assert_string_equal(sens_level(NULL), "none");
	assert_string_equal(sens_level(&r), "none");
	r.kinds = SENS_IBAN;
	assert_string_equal(sens_level(&r), "pii");
	r.kinds = SENS_IBAN | SENS_SECRET;
	assert_string_equal(sens_level(&r), "secret");
}

static void test_kinds_parse(void **state)
{
	uint32_t m = 12345;
	char err[256], longword[65];

	(void)state;
	assert_int_equal(sens_kinds_parse("email,card", &m, err, sizeof(err)), 0);
	assert_int_equal(m, SENS_EMAIL | SENS_CARD);
	assert_int_equal(sens_kinds_parse("email+card", &m, err, sizeof(err)), 0);
	assert_int_equal(m, SENS_EMAIL | SENS_CARD);
	assert_int_equal(sens_kinds_parse(" phone , national_id\t", &m, err, sizeof(err)), 0);
	assert_int_equal(m, SENS_PHONE | SENS_NATIONAL_ID);
	assert_int_equal(sens_kinds_parse("all", &m, err, sizeof(err)), 0);
	assert_int_equal(m, SENS_ALL_MASK);
	assert_int_equal(sens_kinds_parse("none", &m, err, sizeof(err)), 0);
	assert_int_equal(m, 0);
	assert_int_equal(sens_kinds_parse("pii", &m, err, sizeof(err)), 0);
	assert_int_equal(m, SENS_PII_MASK);
	assert_int_equal(sens_kinds_parse("pii,secret", &m, err, sizeof(err)), 0);
	assert_int_equal(m, SENS_ALL_MASK);

	m = 99;
	assert_int_equal(sens_kinds_parse("email,bogus", &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'bogus'"));
	assert_int_equal(m, 99); /* untouched */
	assert_int_equal(sens_kinds_parse("", &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(sens_kinds_parse("email,,card", &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "column 7"));
	assert_int_equal(sens_kinds_parse("email,", &m, err, sizeof(err)), -EINVAL);
	assert_int_equal(sens_kinds_parse("Email", &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'Email'"));
	assert_int_equal(sens_kinds_parse("emailx", &m, NULL, 0), -EINVAL);
	assert_int_equal(sens_kinds_parse(NULL, &m, err, sizeof(err)), -EINVAL);
	/* a very long word is cut in the message */
	memset(longword, 'a', sizeof(longword) - 1);
	longword[sizeof(longword) - 1] = 0;
	assert_int_equal(sens_kinds_parse(longword, &m, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_kinds_render(void **state)
{
	char buf[128], small[8];

	(void)state;
	assert_int_equal(sens_kinds_render(SENS_EMAIL | SENS_CARD, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "email+card");
	assert_int_equal(sens_kinds_render(0, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "none");
	assert_int_equal(sens_kinds_render(1u << 30, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "none");
	sens_kinds_render(SENS_ALL_MASK, buf, sizeof(buf));
	assert_string_equal(buf, "email+phone+card+national_id+iban+secret");
	/* truncation: snprintf-like */
	assert_int_equal(sens_kinds_render(SENS_EMAIL | SENS_CARD, small, sizeof(small)), 10);
	assert_string_equal(small, "email+c");
	assert_int_equal(sens_kinds_render(SENS_EMAIL, NULL, 0), 5);
	/* every mask survives render then parse */
	for (uint32_t mask = 0; mask <= SENS_ALL_MASK; mask++) {
		uint32_t back = 0;

		sens_kinds_render(mask, buf, sizeof(buf));
		assert_int_equal(sens_kinds_parse(buf, &back, NULL, 0), 0);
		assert_int_equal(back, mask);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_card),
		cmocka_unit_test(test_national_id),
		cmocka_unit_test(test_iban),
		cmocka_unit_test(test_secret_tokens),
		cmocka_unit_test(test_secret_pem),
		cmocka_unit_test(test_secret_jwt),
		cmocka_unit_test(test_secret_password),
		cmocka_unit_test(test_secret_db_url),
		cmocka_unit_test(test_json_escapes_are_boundaries),
		cmocka_unit_test(test_json_structure_ignored),
		cmocka_unit_test(test_json_large_mixed_body),
		cmocka_unit_test(test_base64_blobs),
		cmocka_unit_test(test_counting),
		cmocka_unit_test(test_enabled_mask),
		cmocka_unit_test(test_scratch_reuse),
		cmocka_unit_test(test_two_threads),
		cmocka_unit_test(test_validation_math),
		cmocka_unit_test(test_names_and_levels),
		cmocka_unit_test(test_kinds_parse),
		cmocka_unit_test(test_kinds_render),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
