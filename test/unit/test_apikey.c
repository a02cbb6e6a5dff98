/* test_apikey: key discovery in requests, format classification, fingerprints, the fleet-secret
 * file, and the leak scanner, through the public API (apikey.h). Keys are generated from a fixed
 * seed with the real formats' alphabets and lengths; none is a real key. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apikey.h"
#include "keyreg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t secret[APIKEY_SECRET_LEN] = {
	0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

/* ---- deterministic key generation ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char HEX[] = "0123456789abcdef";
static const char ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* <prefix> + <n> characters of <alphabet>, guaranteed to mix upper, lower and digits where the
 * alphabet has them (as real keys of these lengths virtually always do). */
static char *make_key(char *buf, const char *prefix, const char *alphabet, size_t n)
{
	size_t p = strlen(prefix), a = strlen(alphabet);

	memcpy(buf, prefix, p);
	for (size_t i = 0; i < n; i++)
		buf[p + i] = alphabet[rng() % a];
	if (n >= 3 && a >= 62) {
		buf[p] = 'Q';
		buf[p + 1] = 'q';
		buf[p + 2] = '7';
	} else if (n >= 2 && a == 16) {
		buf[p] = 'a';
		buf[p + 1] = '7';
	} else if (n >= 2 && a == 52) {
		buf[p] = 'Q';
		buf[p + 1] = 'q';
	}
	buf[p + n] = '\0';
	return buf;
}

struct fmt_case {
	const char *prefix;
	const char *alphabet;
	size_t body;
	enum apikey_fmt_id id;
	const char *name, *provider;
};

/* Real-world shapes: prefix, alphabet and body length as the providers issue them. */
static const struct fmt_case real_formats[] = {
	{ "sk-ant-api03-", B64URL, 95, APIKEY_FMT_ANTHROPIC_API, "anthropic-api", "anthropic" },
	{ "sk-ant-admin01-", B64URL, 93, APIKEY_FMT_ANTHROPIC_ADMIN, "anthropic-admin",
	  "anthropic" },
	{ "sk-ant-oat01-", B64URL, 95, APIKEY_FMT_ANTHROPIC_OTHER, "anthropic-other", "anthropic" },
	{ "sk-or-v1-", HEX, 64, APIKEY_FMT_OPENROUTER, "openrouter", "openrouter" },
	{ "sk-proj-", B64URL, 156, APIKEY_FMT_OPENAI_PROJECT, "openai-project", "openai" },
	{ "sk-svcacct-", B64URL, 156, APIKEY_FMT_OPENAI_SVCACCT, "openai-service-account",
	  "openai" },
	{ "sk-admin-", B64URL, 156, APIKEY_FMT_OPENAI_ADMIN, "openai-admin", "openai" },
	{ "sk-", ALNUM, 48, APIKEY_FMT_OPENAI_LEGACY, "openai-legacy", "openai" },
	{ "AIza", B64URL, 35, APIKEY_FMT_GOOGLE, "google-api-key", "google" },
	{ "gsk_", ALNUM, 52, APIKEY_FMT_GROQ, "groq", "groq" },
	{ "xai-", ALNUM, 80, APIKEY_FMT_XAI, "xai", "xai" },
	{ "pplx-", ALNUM, 48, APIKEY_FMT_PERPLEXITY, "perplexity", "perplexity" },
	{ "hf_", ALPHA, 34, APIKEY_FMT_HUGGINGFACE, "huggingface", "huggingface" },
};

static void test_classify_each_format(void **state)
{
	char key[256];

	for (size_t i = 0; i < ARRAY_SIZE(real_formats); i++) {
		const struct fmt_case *c = &real_formats[i];
		const struct apikey_format *f;

		make_key(key, c->prefix, c->alphabet, c->body);
		f = apikey_classify(key, strlen(key));
		assert_int_equal(f->id, c->id);
		assert_string_equal(f->name, c->name);
		assert_string_equal(f->provider, c->provider);
		assert_false(f->ephemeral);
		assert_ptr_equal(apikey_format_of(c->id), f);
	}
}

static void test_classify_order_and_boundaries(void **state)
{
	char key[256];

	/* A short sk-ant-api03- key is still Anthropic (family rule), never OpenAI legacy. */
	make_key(key, "sk-ant-api03-", B64URL, 40);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_ANTHROPIC_OTHER);
	/* sk-ant- with a body too short for any Anthropic rule: unknown, not openai-legacy. */
	make_key(key, "sk-ant-", B64URL, 10);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	/* sk-or-v1- needs exactly 64 lower-case hex digits; anything else is unknown. */
	make_key(key, "sk-or-v1-", HEX, 63);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	make_key(key, "sk-or-v1-", HEX, 65);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	/* sk-proj- with a short body is unknown, not legacy. */
	make_key(key, "sk-proj-", B64URL, 20);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	/* Legacy minimum body is 32. */
	make_key(key, "sk-", ALNUM, 32);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_OPENAI_LEGACY);
	make_key(key, "sk-", ALNUM, 31);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	/* Google: exactly 39 characters. */
	make_key(key, "AIza", B64URL, 34);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	make_key(key, "AIza", B64URL, 36);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	/* Prefixes are case-sensitive; a character outside the alphabet spoils the key. */
	make_key(key, "SK-proj-", B64URL, 156);
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	make_key(key, "gsk_", ALNUM, 52);
	key[20] = '-';
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	make_key(key, "sk-proj-", B64URL, 156);
	key[50] = ' ';
	assert_int_equal(apikey_classify(key, strlen(key))->id, APIKEY_FMT_UNKNOWN);
	/* The length given counts, not the NUL. */
	make_key(key, "AIza", B64URL, 35);
	assert_int_equal(apikey_classify(key, 38)->id, APIKEY_FMT_UNKNOWN);
	assert_int_equal(apikey_classify(key, 39)->id, APIKEY_FMT_GOOGLE);
	assert_int_equal(apikey_classify("", 0)->id, APIKEY_FMT_UNKNOWN);
	assert_int_equal(apikey_classify(NULL, 0)->id, APIKEY_FMT_UNKNOWN);
	assert_string_equal(apikey_classify("my-gateway-token", 16)->name, "unknown");
	assert_string_equal(apikey_format_of(APIKEY_FMT_COUNT)->name, "unknown");
}

static void test_classify_ephemeral_tokens(void **state)
{
	const char *jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLWJ5dGVz";
	const char *ya29 = "ya29.a0AfB_byC1234567890abcdefghijklmnop";
	const struct apikey_format *f;

	f = apikey_classify(jwt, strlen(jwt));
	assert_int_equal(f->id, APIKEY_FMT_JWT);
	assert_true(f->ephemeral);
	/* Not three parts: not a JWT. */
	assert_int_equal(apikey_classify("eyJhbGciOiJSUzI1NiJ9eyJzdWIiOiJ1c2VyIn0", 39)->id,
			 APIKEY_FMT_UNKNOWN);
	f = apikey_classify(ya29, strlen(ya29));
	assert_int_equal(f->id, APIKEY_FMT_GOOGLE_OAUTH);
	assert_true(f->ephemeral);
}

/* ---- finding keys in requests ---- */

#define F(n, v) { n, v, sizeof(n) - 1, sizeof(v) - 1 }

static void test_find_each_location(void **state)
{
	static const struct {
		struct http_field f;
		enum apikey_location loc;
		const char *where, *key;
	} cases[] = {
		{ F("x-api-key", "sk-ant-api03-abc"), APIKEY_LOC_X_API_KEY, "x-api-key",
		  "sk-ant-api03-abc" },
		{ F("X-Goog-Api-Key", " AIzaSyTest "), APIKEY_LOC_X_GOOG_API_KEY, "x-goog-api-key",
		  "AIzaSyTest" },
		{ F("API-KEY", "\tazurekey123\t"), APIKEY_LOC_API_KEY, "api-key", "azurekey123" },
		{ F("Authorization", "Bearer sk-proj-abc"), APIKEY_LOC_BEARER, "authorization",
		  "sk-proj-abc" },
		{ F("authorization", "bearer \t gsk_abc  "), APIKEY_LOC_BEARER, "authorization",
		  "gsk_abc" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct apikey_ref ref;
		size_t n = apikey_find("/v1/chat/completions", &cases[i].f, 1, &ref, 1);

		assert_int_equal(n, 1);
		assert_int_equal(ref.loc, cases[i].loc);
		assert_string_equal(ref.where, cases[i].where);
		assert_int_equal(ref.len, strlen(cases[i].key));
		assert_memory_equal(ref.key, cases[i].key, ref.len);
		/* Borrowed: the pointer is inside the header value. */
		assert_true(ref.key >= cases[i].f.value &&
			    ref.key + ref.len <= cases[i].f.value + cases[i].f.value_len);
		assert_false(ref.pct_encoded);
	}
}

static void test_find_ignores_non_keys(void **state)
{
	static const struct http_field fields[] = {
		F("Authorization", "Basic dXNlcjpwYXNz"),
		F("Authorization", "Bearer"),
		F("Authorization", "Bearer    "),
		F("Authorization", "Bearertoken"),
		F("x-api-key", ""),
		F("x-api-key", "   "),
		F("x-api-keys", "nope"),
		F("api-key-id", "nope"),
		F("content-type", "application/json"),
	};
	struct apikey_ref ref;

	assert_int_equal(apikey_find("/v1/messages", fields, ARRAY_SIZE(fields), &ref, 1), 0);
	assert_int_equal(apikey_find(NULL, NULL, 0, &ref, 1), 0);
}

static void test_find_query_key(void **state)
{
	static const struct {
		const char *path, *key;
		bool encoded;
	} cases[] = {
		{ "/v1beta/models/gemini-2.5-flash:generateContent?key=AIzaSyA1", "AIzaSyA1", false },
		{ "/v1beta/models/g:streamGenerateContent?alt=sse&key=AIzaSyB2", "AIzaSyB2", false },
		{ "/x?key=AIzaSyC3&alt=sse", "AIzaSyC3", false },
		{ "/x?monkey=1&key=K4#frag", "K4", false },
		{ "/x?key=AIza%2DSy%5f5", "AIza%2DSy%5f5", true },
	};
	static const char *const none[] = {
		"/x?key=", "/x?keys=a", "/x?monkey=a", "/x#key=a", "/x?a=1#&key=b", "/x?KEY=a",
		"/x", "/x?", "/x?key", "/key=a",
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct apikey_ref ref;

		assert_int_equal(apikey_find(cases[i].path, NULL, 0, &ref, 1), 1);
		assert_int_equal(ref.loc, APIKEY_LOC_QUERY_KEY);
		assert_string_equal(ref.where, "query:key");
		assert_int_equal(ref.len, strlen(cases[i].key));
		assert_memory_equal(ref.key, cases[i].key, ref.len);
		assert_int_equal(ref.pct_encoded, cases[i].encoded);
	}
	for (size_t i = 0; i < ARRAY_SIZE(none); i++) {
		struct apikey_ref ref;

		assert_int_equal(apikey_find(none[i], NULL, 0, &ref, 1), 0);
	}
}

static void test_find_priority_and_overflow(void **state)
{
	static const struct http_field fields[] = {
		F("authorization", "Bearer tokA"),
		F("x-goog-api-key", "tokB"),
		F("x-api-key", "tokC"),
		F("api-key", "tokD"),
	};
	struct apikey_ref refs[8];
	static const char *const order[] = { "tokC", "tokB", "tokD", "tokA", "tokE" };

	assert_int_equal(apikey_find("/p?key=tokE", fields, ARRAY_SIZE(fields), refs, 8), 5);
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		assert_memory_equal(refs[i].key, order[i], 4);
	/* Fewer slots than keys: the most specific first, and the total is still returned. */
	memset(refs, 0, sizeof(refs));
	assert_int_equal(apikey_find("/p?key=tokE", fields, ARRAY_SIZE(fields), refs, 2), 5);
	assert_memory_equal(refs[0].key, "tokC", 4);
	assert_memory_equal(refs[1].key, "tokB", 4);
	assert_null(refs[2].key);
	assert_int_equal(apikey_find("/p?key=tokE", fields, ARRAY_SIZE(fields), NULL, 0), 5);
}

/* ---- fingerprints ---- */

static void test_fingerprint_known_vector(void **state)
{
	char fp[APIKEY_FP_HEX_LEN + 1];

	/* HMAC-SHA256(key = 00 01 .. 1f, "sk-proj-example"), computed with Python's hmac module
	 * and `openssl dgst -sha256 -mac HMAC`. */
	assert_int_equal(apikey_fingerprint(secret, "sk-proj-example", 15, fp), 0);
	assert_string_equal(fp, "5b0fc72b86c537fef27e061f352d44449798de95627447b376ea813dfcc9754f");
	assert_int_equal(apikey_fingerprint(secret, "", 0, fp), 0);
	assert_string_equal(fp, "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb");
}

static void test_fingerprint_depends_on_secret_and_key(void **state)
{
	char a[APIKEY_FP_HEX_LEN + 1], b[APIKEY_FP_HEX_LEN + 1], c[APIKEY_FP_HEX_LEN + 1];
	uint8_t other[APIKEY_SECRET_LEN];

	memcpy(other, secret, sizeof(other));
	other[31] ^= 1;
	assert_int_equal(apikey_fingerprint(secret, "sk-proj-example", 15, a), 0);
	assert_int_equal(apikey_fingerprint(other, "sk-proj-example", 15, b), 0);
	assert_int_equal(apikey_fingerprint(secret, "sk-proj-examplf", 15, c), 0);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), APIKEY_FP_HEX_LEN);
	assert_int_equal(strspn(a, "0123456789abcdef"), APIKEY_FP_HEX_LEN);
}

static void test_last4(void **state)
{
	char out[5];

	apikey_last4("sk-proj-abcdefghijklmnopWXYZ", 28, out);
	assert_string_equal(out, "WXYZ");
	apikey_last4("short-key-1234", 14, out); /* under APIKEY_LAST4_MIN_KEY: nothing shown */
	assert_string_equal(out, "");
	apikey_last4("0123456789012345678\x01 \x80x", 23, out);
	assert_string_equal(out, "?\?\?x");
	apikey_last4(NULL, 0, out);
	assert_string_equal(out, "");
}

static void test_identify(void **state)
{
	char key[64], fp[APIKEY_FP_HEX_LEN + 1], path[256], big[APIKEY_DECODE_MAX + 64];
	struct apikey_ref ref;
	struct apikey_id id;

	make_key(key, "AIza", B64URL, 35);
	key[10] = '-';
	/* Percent-encode every '-' and the first 'a': the fingerprint is of the decoded key. */
	snprintf(path, sizeof(path), "/v1beta/models/x:generateContent?key=AIz%%61%.6s%%2D%s",
		 key + 4, key + 11);
	assert_int_equal(apikey_find(path, NULL, 0, &ref, 1), 1);
	assert_true(ref.pct_encoded);
	assert_int_equal(apikey_identify(secret, &ref, &id), 0);
	assert_int_equal(apikey_fingerprint(secret, key, strlen(key), fp), 0);
	assert_string_equal(id.fp, fp);
	assert_int_equal(id.fmt->id, APIKEY_FMT_GOOGLE);
	assert_int_equal(id.loc, APIKEY_LOC_QUERY_KEY);
	assert_memory_equal(id.last4, key + strlen(key) - 4, 4);

	/* A header key is used as is. */
	ref = (struct apikey_ref){ .loc = APIKEY_LOC_BEARER, .key = key, .len = strlen(key) };
	assert_int_equal(apikey_identify(secret, &ref, &id), 0);
	assert_string_equal(id.fp, fp);

	/* Too long to decode on the stack: refused, nothing half-filled. */
	memset(big, 'a', sizeof(big));
	big[0] = '%';
	big[1] = '4';
	big[2] = '1';
	ref = (struct apikey_ref){ .loc = APIKEY_LOC_QUERY_KEY, .key = big, .len = sizeof(big),
				   .pct_encoded = true };
	assert_int_equal(apikey_identify(secret, &ref, &id), -EMSGSIZE);
	assert_string_equal(id.fp, "");
	assert_int_equal(id.fmt->id, APIKEY_FMT_UNKNOWN);
}

/* ---- fleet secret file ---- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_apikey.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
			if (unlink(p) < 0)
				rmdir(p);
		}
	}
	if (d)
		closedir(d);
	return rmdir(tmpdir);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void hex_of(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_secret_create_then_load(void **state)
{
	uint8_t a[APIKEY_SECRET_LEN], b[APIKEY_SECRET_LEN], zero[APIKEY_SECRET_LEN] = { 0 };
	char path[128], err[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/fleet.key", tmpdir);
	assert_int_equal(apikey_secret_load_or_create(path, a, err, sizeof(err)), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, APIKEY_SECRET_LEN);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(count_entries(tmpdir), 1); /* no temporary file left behind */
	assert_int_equal(apikey_secret_load_or_create(path, b, err, sizeof(err)), 0);
	assert_memory_equal(a, b, sizeof(a));
}

static void test_secret_refusals(void **state)
{
	uint8_t s[APIKEY_SECRET_LEN], data[40];
	char path[128], link_path[128], err[256], hex[2 * sizeof(data) + 1];
	static const struct {
		size_t len;
		mode_t mode;
		int rc;
		const char *msg;
	} cases[] = {
		{ 32, 0640, -EPERM, "mode 0640 gives group/other access; it must be 0600" },
		{ 32, 0604, -EPERM, "mode 0604 gives group/other access" },
		{ 32, 0620, -EPERM, "mode 0620" },
		{ 31, 0600, -EINVAL, "31 bytes, expected 32" },
		{ 33, 0600, -EINVAL, "33 bytes, expected 32" },
		{ 0, 0600, -EINVAL, "0 bytes, expected 32" },
	};

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xa0 + i);
	hex_of(data, sizeof(data), hex);
	snprintf(path, sizeof(path), "%s/fleet.key", tmpdir);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unlink(path);
		write_file(path, data, cases[i].len, cases[i].mode);
		memset(err, 0, sizeof(err));
		assert_int_equal(apikey_secret_load_or_create(path, s, err, sizeof(err)),
				 cases[i].rc);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, cases[i].msg));
		assert_null(strstr(err, hex + 8)); /* no secret bytes in the message */
		/* The bad file is left alone, not replaced. */
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_size, (off_t)cases[i].len);
	}
	unlink(path);

	/* A symbolic link is refused, even to a good file. */
	snprintf(link_path, sizeof(link_path), "%s/link.key", tmpdir);
	write_file(path, data, 32, 0600);
	assert_int_equal(symlink(path, link_path), 0);
	assert_int_equal(apikey_secret_load_or_create(link_path, s, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "symbolic link"));
	unlink(link_path);
	unlink(path);

	/* A directory is not a secret. */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(apikey_secret_load_or_create(path, s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(path);

	/* Missing directory: a clear error, nothing created. */
	snprintf(path, sizeof(path), "%s/no/such/dir/fleet.key", tmpdir);
	assert_int_equal(apikey_secret_load_or_create(path, s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot create"));
	assert_int_equal(apikey_secret_load_or_create("", s, err, sizeof(err)), -EINVAL);
}

/* ---- leak scanning ---- */

static void scan_chunks(struct apikey_scan *s, const char *text, size_t len, size_t chunk)
{
	apikey_scan_init(s, secret);
	for (size_t off = 0; off < len; off += chunk)
		apikey_scan_feed(s, text + off, len - off < chunk ? len - off : chunk);
	apikey_scan_finish(s);
}

static void test_scan_finds_each_format(void **state)
{
	char key[256], text[512], fp[APIKEY_FP_HEX_LEN + 1];

	for (size_t i = 0; i < ARRAY_SIZE(real_formats); i++) {
		const struct fmt_case *c = &real_formats[i];
		struct apikey_scan s;
		int n;

		make_key(key, c->prefix, c->alphabet, c->body);
		n = snprintf(text, sizeof(text),
			     "{\"messages\":[{\"role\":\"user\",\"content\":\"why does %s fail?\"}]}",
			     key);
		apikey_scan_text(&s, secret, text, (size_t)n);
		assert_int_equal(s.error, 0);
		assert_int_equal(s.occurrences, 1);
		assert_int_equal(s.nleaks, 1);
		assert_int_equal(s.leaks[0].fmt->id, c->id);
		assert_int_equal(s.leaks[0].offset, (uint64_t)(strstr(text, key) - text));
		assert_int_equal(apikey_fingerprint(secret, key, strlen(key), fp), 0);
		assert_string_equal(s.leaks[0].fp, fp);
		assert_memory_equal(s.leaks[0].last4, key + strlen(key) - 4, 5);
	}
}

static void test_scan_contexts(void **state)
{
	char key[256], text[512];
	static const char *const found[] = {
		"%s",                   "export OPENAI_API_KEY=%s\n", "key: '%s'.",
		"line1\\n%s\\nline2",   "tab\\t%s",                  "quote \\\"%s\\\" end",
		"\\u0022%s\\u0022",     "key%%3D%s&x=1",             "(%s)",
		"**%s**",               "`%s`",                      "<%s>",
	};
	static const char *const not_found[] = {
		"my%s",    /* glued to a word */
		"x_%s",    /* glued with '_' */
		"/%s",     /* after '/': inside base64 or a path */
		"+%s",     /* after '+': inside base64 */
		"%s/abc",  /* followed by '/' */
		"%s+abc",  /* followed by '+' */
		"%sQ",     /* the run continues: a longer token is not this key */
		"\\x%s",   /* backslash before a letter that is no escape: run starts at x */
	};

	make_key(key, "sk-proj-", B64URL, 156);
	for (size_t i = 0; i < ARRAY_SIZE(found); i++) {
		struct apikey_scan s;
		int n = snprintf(text, sizeof(text), found[i], key);

		apikey_scan_text(&s, secret, text, (size_t)n);
		assert_int_equal(s.nleaks, 1);
		assert_int_equal(s.leaks[0].offset, (uint64_t)(strstr(text, key) - text));
	}
	/* Google keys have a fixed length, so a longer run never matches. */
	make_key(key, "AIza", B64URL, 35);
	for (size_t i = 0; i < ARRAY_SIZE(not_found); i++) {
		struct apikey_scan s;
		int n = snprintf(text, sizeof(text), not_found[i], key);

		apikey_scan_text(&s, secret, text, (size_t)n);
		assert_int_equal(s.occurrences, 0);
	}
}

static void test_scan_split_anywhere(void **state)
{
	char key[256], text[600];
	struct apikey_scan whole, s;
	int n;

	make_key(key, "sk-ant-api03-", B64URL, 95);
	n = snprintf(text, sizeof(text), "{\"content\":\"use %s, not sk-short\"}", key);
	apikey_scan_text(&whole, secret, text, (size_t)n);
	assert_int_equal(whole.nleaks, 1);
	for (size_t chunk = 1; chunk <= (size_t)n; chunk++) {
		scan_chunks(&s, text, (size_t)n, chunk);
		assert_int_equal(s.nleaks, 1);
		assert_int_equal(s.occurrences, 1);
		assert_string_equal(s.leaks[0].fp, whole.leaks[0].fp);
		assert_int_equal(s.leaks[0].offset, whole.leaks[0].offset);
	}
	/* Key at the very end of the stream, fed in two pieces: found at finish. */
	apikey_scan_init(&s, secret);
	apikey_scan_feed(&s, key, 10);
	apikey_scan_feed(&s, key + 10, strlen(key) - 10);
	assert_int_equal(s.nleaks, 0);
	assert_true(s.in_run);
	apikey_scan_finish(&s);
	assert_int_equal(s.nleaks, 1);
	assert_int_equal(s.leaks[0].offset, 0);
	/* The carried partial key is wiped once decided. */
	for (size_t i = 0; i < sizeof(s.carry); i++)
		assert_int_equal(s.carry[i], 0);
}

static void test_scan_dedup_and_cap(void **state)
{
	char keys[12][64], text[2048];
	size_t n = 0;
	struct apikey_scan s;

	for (int i = 0; i < 12; i++) {
		make_key(keys[i], "gsk_", ALNUM, 52);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "k%d=%s ", i, keys[i]);
	}
	n += (size_t)snprintf(text + n, sizeof(text) - n, "again %s", keys[0]);
	apikey_scan_text(&s, secret, text, n);
	assert_int_equal(s.occurrences, 13);
	assert_int_equal(s.nleaks, APIKEY_LEAKS_MAX);
	assert_true(s.leaks_truncated);
	/* First occurrence order. */
	for (int i = 0; i < APIKEY_LEAKS_MAX; i++)
		assert_int_equal(s.leaks[i].offset, (uint64_t)(strstr(text, keys[i]) - text));

	n = (size_t)snprintf(text, sizeof(text), "%s and %s", keys[1], keys[1]);
	apikey_scan_text(&s, secret, text, n);
	assert_int_equal(s.occurrences, 2);
	assert_int_equal(s.nleaks, 1);
	assert_false(s.leaks_truncated);
}

static void test_scan_negatives(void **state)
{
	static const char *const texts[] = {
		"This task-based approach is risk-free; see sk-learn and ask-me.",
		"sk-this-is-a-very-long-kebab-case-identifier-name-ok",
		"sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
		"sk-ThisIsMyReallyLongCamelCaseIdentifierHereOk",
		"use hf_hub_download() from huggingface_hub",
		"gsk_example, xai-example, pplx-api-key, sk-ant-api03-...",
		"sk-or-v1-ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLWJ5dGVz",
		"The quick brown fox jumps over the lazy dog 1234567890 times.",
	};

	char same[40];
	struct apikey_scan s;

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		apikey_scan_text(&s, secret, texts[i], strlen(texts[i]));
		assert_int_equal(s.occurrences, 0);
	}
	/* A Google-shaped key of one repeated letter (built here, so that no secret scanner
	 * mistakes this file for a leak). */
	memcpy(same, "AIza", 4);
	memset(same + 4, 'A', 35);
	same[39] = '\0';
	assert_int_equal(apikey_classify(same, 39)->id, APIKEY_FMT_GOOGLE);
	apikey_scan_text(&s, secret, same, 39);
	assert_int_equal(s.occurrences, 0);
}

static void test_scan_base64_blob(void **state)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = 1 << 20;
	char *blob = malloc(len + 64);
	char key[64];
	struct apikey_scan s;

	assert_non_null(blob);
	for (size_t i = 0; i < len; i++)
		blob[i] = b64[rng() % 64];
	/* Plant key prefixes inside the base64 stream: never reported. */
	for (size_t at = 1000; at + 64 < len; at += 4099) {
		make_key(key, at % 2 ? "AIza" : "sk-proj-", B64URL, 35);
		memcpy(blob + at, key, strlen(key));
	}
	apikey_scan_text(&s, secret, blob, len);
	assert_int_equal(s.occurrences, 0);
	free(blob);
}

static void test_scan_overlong_runs(void **state)
{
	char text[2048];
	struct apikey_scan s;

	/* A key followed directly by 250 more key characters is one 400-character run: not a key,
	 * whether the run ends inside a chunk, at the end of the stream, or across chunks (the
	 * carry overflows). */
	make_key(text, "sk-proj-", B64URL, 400);
	apikey_scan_text(&s, secret, text, strlen(text));
	assert_int_equal(s.occurrences, 0);
	scan_chunks(&s, text, strlen(text), 7);
	assert_int_equal(s.occurrences, 0);
	strcat(text, " tail");
	apikey_scan_text(&s, secret, text, strlen(text));
	assert_int_equal(s.occurrences, 0);
	scan_chunks(&s, text, strlen(text), 7);
	assert_int_equal(s.occurrences, 0);
	/* Exactly at the cap it is still considered. */
	make_key(text, "sk-proj-", B64URL, APIKEY_SCAN_MAX_TOKEN - 8);
	scan_chunks(&s, text, strlen(text), 100);
	assert_int_equal(s.nleaks, 1);
	strcat(text, ".");
	apikey_scan_text(&s, secret, text, strlen(text));
	assert_int_equal(s.nleaks, 1);
	make_key(text, "sk-proj-", B64URL, APIKEY_SCAN_MAX_TOKEN - 7);
	scan_chunks(&s, text, strlen(text), 100);
	assert_int_equal(s.nleaks, 0);
	strcat(text, ".");
	apikey_scan_text(&s, secret, text, strlen(text));
	assert_int_equal(s.nleaks, 0);
}

static void test_plausible(void **state)
{
	char key[256];

	make_key(key, "sk-proj-", B64URL, 156);
	assert_true(apikey_plausible(key, strlen(key), apikey_classify(key, strlen(key))));
	assert_false(apikey_plausible("sk-proj-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 52,
				      apikey_format_of(APIKEY_FMT_OPENAI_PROJECT)));
	assert_false(apikey_plausible(key, strlen(key), apikey_format_of(APIKEY_FMT_JWT)));
	assert_false(apikey_plausible(key, strlen(key), apikey_format_of(APIKEY_FMT_UNKNOWN)));
	assert_false(apikey_plausible(NULL, 0, apikey_format_of(APIKEY_FMT_GOOGLE)));
}

/* ---- raw keys never reach a message or an output string ---- */

static bool contains_key_part(const char *s, size_t slen, const char *key)
{
	size_t klen = strlen(key);

	/* Any 5 consecutive characters of the key (last4 shows 4). */
	for (size_t i = 0; i + 5 <= klen; i++) {
		if (memmem(s, slen, key + i, 5))
			return true;
	}
	return false;
}

static void test_no_raw_key_in_outputs_or_errors(void **state)
{
	char key[256], text[512], path[256], err[512], reg_text[512];
	struct http_field field = { "x-api-key", key, 9, 0 };

	snprintf(path, sizeof(path), "%s/keys", tmpdir);
	for (size_t i = 0; i < ARRAY_SIZE(real_formats); i++) {
		const struct fmt_case *c = &real_formats[i];
		struct apikey_ref ref;
		struct apikey_id id;
		struct apikey_scan s;
		struct keyreg *reg;
		int n;

		make_key(key, c->prefix, c->alphabet, c->body);
		field.value_len = strlen(key);
		assert_int_equal(apikey_find("/", &field, 1, &ref, 1), 1);
		assert_int_equal(apikey_identify(secret, &ref, &id), 0);
		assert_false(contains_key_part(id.fp, sizeof(id.fp), key));
		assert_false(contains_key_part(id.last4, sizeof(id.last4), key));

		n = snprintf(text, sizeof(text), "paste: %s", key);
		apikey_scan_text(&s, secret, text, (size_t)n);
		assert_int_equal(s.nleaks, 1);
		/* Nothing in the scanner's state (leaks, carry) holds the key. */
		assert_false(contains_key_part((const char *)&s, sizeof(s), key));

		/* An operator pasting the raw key where a fingerprint belongs gets an error that
		 * does not echo it: from the registry parser and from sanction/revoke. */
		n = snprintf(reg_text, sizeof(reg_text), "# keys\n%s openai laptop\n", key);
		memset(err, 0, sizeof(err));
		reg = keyreg_parse(reg_text, (size_t)n, "keys", err, sizeof(err));
		assert_null(reg);
		assert_true(strlen(err) > 0);
		assert_false(contains_key_part(err, sizeof(err), key));
		memset(err, 0, sizeof(err));
		assert_int_equal(keyreg_sanction(path, key, "openai", "x", err, sizeof(err)),
				 -EINVAL);
		assert_false(contains_key_part(err, sizeof(err), key));
		memset(err, 0, sizeof(err));
		assert_int_equal(keyreg_revoke(path, key, err, sizeof(err)), -EINVAL);
		assert_false(contains_key_part(err, sizeof(err), key));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_each_format),
		cmocka_unit_test(test_classify_order_and_boundaries),
		cmocka_unit_test(test_classify_ephemeral_tokens),
		cmocka_unit_test(test_find_each_location),
		cmocka_unit_test(test_find_ignores_non_keys),
		cmocka_unit_test(test_find_query_key),
		cmocka_unit_test(test_find_priority_and_overflow),
		cmocka_unit_test(test_fingerprint_known_vector),
		cmocka_unit_test(test_fingerprint_depends_on_secret_and_key),
		cmocka_unit_test(test_last4),
		cmocka_unit_test(test_identify),
		cmocka_unit_test_setup_teardown(test_secret_create_then_load, make_tmpdir,
						remove_tmpdir),
		cmocka_unit_test_setup_teardown(test_secret_refusals, make_tmpdir, remove_tmpdir),
		cmocka_unit_test(test_scan_finds_each_format),
		cmocka_unit_test(test_scan_contexts),
		cmocka_unit_test(test_scan_split_anywhere),
		cmocka_unit_test(test_scan_dedup_and_cap),
		cmocka_unit_test(test_scan_negatives),
		cmocka_unit_test(test_scan_base64_blob),
		cmocka_unit_test(test_scan_overlong_runs),
		cmocka_unit_test(test_plausible),
		cmocka_unit_test_setup_teardown(test_no_raw_key_in_outputs_or_errors, make_tmpdir,
						remove_tmpdir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
