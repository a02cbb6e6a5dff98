/* test_keyreg: the sanctioned-key registry through its public API: parsing (every error with its
 * line and column), lookups, and the atomic rewrite behind `modeluxctl keys sanction/revoke`. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyreg.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define FP_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define FP_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define FP_C "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP_A_UPPER "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

static struct keyreg *parse(const char *text, char *err, size_t errlen)
{
	return keyreg_parse(text, strlen(text), "keys", err, errlen);
}

static void test_parse_ok(void **state)
{
	static const char text[] = "\xef\xbb\xbf# sanctioned keys\n"
				   "\n"
				   "   # indented comment\n" FP_A_UPPER " openai  CI runner  \r\n"
				   "\t" FP_B "\n" FP_C " - Zoë's laptop #3\n";
	char err[256];
	struct keyreg *reg = parse(text, err, sizeof(err));
	const struct keyreg_entry *e;

	assert_non_null(reg);
	assert_int_equal(keyreg_count(reg), 3);
	e = keyreg_entry_at(reg, 0);
	assert_string_equal(e->fp_hex, FP_A);
	assert_string_equal(e->provider, "openai");
	assert_string_equal(e->label, "CI runner");
	assert_int_equal(e->line, 4);
	e = keyreg_entry_at(reg, 1);
	assert_string_equal(e->fp_hex, FP_B);
	assert_string_equal(e->provider, "");
	assert_string_equal(e->label, "");
	e = keyreg_entry_at(reg, 2);
	assert_string_equal(e->provider, "");
	assert_string_equal(e->label, "Zoë's laptop #3");
	assert_null(keyreg_entry_at(reg, 3));

	assert_true(keyreg_is_sanctioned(reg, FP_A));
	assert_true(keyreg_is_sanctioned(reg, FP_A_UPPER));
	assert_ptr_equal(keyreg_find(reg, FP_B), keyreg_entry_at(reg, 1));
	assert_false(keyreg_is_sanctioned(reg, "0123456789abcdef0123456789abcdef0123456789abcdef"
					       "0123456789abcdee"));
	assert_false(keyreg_is_sanctioned(reg, "0123"));
	assert_false(keyreg_is_sanctioned(reg, FP_A "00"));
	assert_false(keyreg_is_sanctioned(reg, NULL));
	assert_false(keyreg_is_sanctioned(NULL, FP_A));
	assert_int_equal(keyreg_count(NULL), 0);
	keyreg_free(reg);

	reg = parse("", err, sizeof(err));
	assert_non_null(reg);
	assert_int_equal(keyreg_count(reg), 0);
	assert_false(keyreg_is_sanctioned(reg, FP_A));
	keyreg_free(reg);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} cases[] = {
		{ "# x\n0123\n", "keys:2:1: fingerprint has 4 characters, expected 64" },
		{ "  " FP_A "0 openai\n", "keys:1:3: fingerprint has 65 characters, expected 64" },
		{ "0123456789abcdef0123456789abcdeg0123456789abcdef0123456789abcdef\n",
		  "keys:1:32: expected a hexadecimal digit in the fingerprint" },
		{ "sk-proj-abc\n", "keys:1:1: expected a hexadecimal digit in the fingerprint" },
		{ FP_A "\n\n" FP_A_UPPER " x\n", "keys:3:1: duplicate fingerprint (first on line 1)" },
		{ FP_A " OpenAI\n", "keys:1:66: provider may hold only a-z, 0-9, '.', '_' and '-'" },
		{ FP_A " openai/x\n", "keys:1:72: provider may hold only a-z, 0-9, '.', '_' and '-'" },
		{ FP_A " abcdefghijklmnopqrstuvwxyz0123456\n",
		  "keys:1:66: provider longer than 31 characters" },
		{ FP_A " - é\x01x\n", "keys:1:69: control character 0x01" },
		{ FP_A " - é\xff\n", "keys:1:69: invalid UTF-8" },
		{ FP_A " - \xed\xa0\x80\n", "keys:1:68: invalid UTF-8" }, /* UTF-16 surrogate */
		{ FP_A " - a\rb\n", "keys:1:69: carriage return not at the end of a line" },
		{ "# a\n# b\0c\n", "keys:2:4: NUL byte" },
	};
	char err[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		/* sizeof - 1 keeps embedded NULs. */
		size_t len = strlen(cases[i].text);

		if (strstr(cases[i].err, "NUL"))
			len = 10;
		memset(err, 0, sizeof(err));
		assert_null(keyreg_parse(cases[i].text, len, "keys", err, sizeof(err)));
		assert_string_equal(err, cases[i].err);
	}
}

static void test_parse_label_limit(void **state)
{
	char text[600], err[256];
	struct keyreg *reg;
	int n;

	n = snprintf(text, sizeof(text), "%s openai %0*d\n", FP_A, KEYREG_LABEL_MAX - 1, 0);
	reg = keyreg_parse(text, (size_t)n, "keys", err, sizeof(err));
	assert_non_null(reg);
	assert_int_equal(strlen(keyreg_entry_at(reg, 0)->label), KEYREG_LABEL_MAX - 1);
	keyreg_free(reg);
	n = snprintf(text, sizeof(text), "%s openai %0*d\n", FP_A, KEYREG_LABEL_MAX, 0);
	assert_null(keyreg_parse(text, (size_t)n, "keys", err, sizeof(err)));
	assert_string_equal(err, "keys:1:73: label longer than 255 bytes");
}

static void fp_of(unsigned i, char out[KEYREG_FP_HEX_LEN + 1])
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;

	for (int k = 0; k < KEYREG_FP_HEX_LEN; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[k] = "0123456789abcdef"[x & 15];
	}
	out[KEYREG_FP_HEX_LEN] = '\0';
}

static void test_many_entries(void **state)
{
	enum { N = 5000 };
	char *text = malloc(N * 80), fp[KEYREG_FP_HEX_LEN + 1], err[256];
	size_t len = 0;
	struct keyreg *reg;

	assert_non_null(text);
	for (unsigned i = 0; i < N; i++) {
		fp_of(i, fp);
		len += (size_t)sprintf(text + len, "%s p%u\n", fp, i % 7);
	}
	reg = keyreg_parse(text, len, "keys", err, sizeof(err));
	assert_non_null(reg);
	assert_int_equal(keyreg_count(reg), N);
	for (unsigned i = 0; i < N; i++) {
		const struct keyreg_entry *e;

		fp_of(i, fp);
		e = keyreg_find(reg, fp);
		assert_non_null(e);
		assert_int_equal(e->line, i + 1);
		fp_of(i + N, fp);
		assert_false(keyreg_is_sanctioned(reg, fp));
	}
	keyreg_free(reg);
	free(text);
}

static void test_fp_parse(void **state)
{
	uint8_t fp[32];

	assert_true(keyreg_fp_parse(FP_A_UPPER, 64, fp));
	assert_int_equal(fp[0], 0x01);
	assert_int_equal(fp[7], 0xef);
	assert_false(keyreg_fp_parse(FP_A, 63, fp));
	assert_false(keyreg_fp_parse("g" FP_A, 64, fp));
	assert_false(keyreg_fp_parse(NULL, 64, fp));
}

/* ---- files ---- */

static char dir[64], path[128];

static int setup_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_keyreg.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/sanctioned-keys", dir);
	return 0;
}

static int teardown_dir(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[256];

	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	return rmdir(dir);
}

static char *slurp(const char *p)
{
	static char buf[4096];
	int fd = open(p, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void put(const char *p, const char *text, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static size_t entries_in_dir(void)
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

static void test_load(void **state)
{
	char err[256];
	struct keyreg *reg;

	assert_null(keyreg_load(path, false, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	reg = keyreg_load(path, true, err, sizeof(err));
	assert_non_null(reg);
	assert_int_equal(keyreg_count(reg), 0);
	keyreg_free(reg);

	put(path, "# x\n" FP_A " openai\nnot-hex\n", 0600);
	assert_null(keyreg_load(path, true, err, sizeof(err)));
	assert_non_null(strstr(err, "sanctioned-keys:"));
	assert_string_equal(strstr(err, "sanctioned-keys:"),
			    "sanctioned-keys:3:1: expected a hexadecimal digit in the fingerprint");
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
}

static void test_sanction_and_revoke(void **state)
{
	char err[256];
	struct keyreg *reg;
	struct stat st;

	/* Creates the file, 0600. */
	assert_int_equal(keyreg_sanction(path, FP_A_UPPER, "openai", "CI runner", err, sizeof(err)),
			 0);
	assert_string_equal(slurp(path), FP_A " openai CI runner\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* No provider but a label: "-" keeps the columns. No label, no provider: just the fp. */
	assert_int_equal(keyreg_sanction(path, FP_B, NULL, "  laptop ", err, sizeof(err)), 0);
	assert_int_equal(keyreg_sanction(path, FP_C, "", NULL, err, sizeof(err)), 0);
	assert_string_equal(slurp(path), FP_A " openai CI runner\n" FP_B " - laptop\n" FP_C "\n");
	assert_int_equal(keyreg_sanction(path, FP_A, "x", NULL, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "already sanctioned (line 1)"));

	reg = keyreg_load(path, false, err, sizeof(err));
	assert_non_null(reg);
	assert_int_equal(keyreg_count(reg), 3);
	assert_string_equal(keyreg_find(reg, FP_B)->label, "laptop");
	keyreg_free(reg);

	assert_int_equal(keyreg_revoke(path, FP_B, err, sizeof(err)), 0);
	assert_string_equal(slurp(path), FP_A " openai CI runner\n" FP_C "\n");
	assert_int_equal(keyreg_revoke(path, FP_B, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "not sanctioned"));
	assert_int_equal(keyreg_revoke(path, FP_A, err, sizeof(err)), 0);
	assert_int_equal(keyreg_revoke(path, FP_C, err, sizeof(err)), 0);
	assert_string_equal(slurp(path), "");
	assert_int_equal(entries_in_dir(), 1); /* no temporary files left */
}

static void test_rewrite_keeps_comments(void **state)
{
	static const char before[] = "# Sanctioned keys, reviewed 2025-11\r\n"
				     "\n" FP_A " openai CI  # not a comment\r\n"
				     "   # team B\n" FP_B " anthropic"; /* no final newline */
	char err[256];

	put(path, before, 0644);
	assert_int_equal(keyreg_sanction(path, FP_C, "gemini", "notebook", err, sizeof(err)), 0);
	assert_string_equal(slurp(path), "# Sanctioned keys, reviewed 2025-11\r\n"
					 "\n" FP_A " openai CI  # not a comment\r\n"
					 "   # team B\n" FP_B " anthropic\n" FP_C " gemini notebook\n");
	assert_int_equal(keyreg_revoke(path, FP_A, err, sizeof(err)), 0);
	assert_string_equal(slurp(path), "# Sanctioned keys, reviewed 2025-11\r\n"
					 "\n"
					 "   # team B\n" FP_B " anthropic\n" FP_C " gemini notebook\n");
	/* The rewrite is 0600 whatever the mode before. */
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_rewrite_is_atomic_replace(void **state)
{
	char err[256], buf[256];
	struct stat before, after;
	int fd;
	ssize_t n;

	put(path, FP_A "\n", 0600);
	assert_int_equal(stat(path, &before), 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(keyreg_sanction(path, FP_B, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &after), 0);
	/* A new file took the name: readers of the old one never see a half-written state. */
	assert_int_not_equal(before.st_ino, after.st_ino);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, 65);
	buf[n] = '\0';
	assert_string_equal(buf, FP_A "\n");
	close(fd);
}

static void test_rewrite_refusals(void **state)
{
	static const char broken[] = "# x\n" FP_A "\nnot a fingerprint\n";
	char err[256];

	put(path, broken, 0600);
	assert_int_equal(keyreg_sanction(path, FP_B, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sanctioned-keys:3:1: expected a hexadecimal digit"));
	assert_int_equal(keyreg_revoke(path, FP_A, err, sizeof(err)), -EINVAL);
	assert_string_equal(slurp(path), broken); /* untouched */
	unlink(path);

	assert_int_equal(keyreg_sanction(path, "abc", NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "fingerprint must be 64 hexadecimal digits");
	assert_int_equal(keyreg_sanction(path, FP_A, "Open AI", NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "new entry:1:66: provider may hold only"));
	assert_int_equal(keyreg_sanction(path, FP_A, "openai", "two\nlines", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "control characters"));
	assert_int_equal(keyreg_sanction(path, FP_A, "openai", "bad \xff utf8", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "invalid UTF-8"));
	assert_int_equal(keyreg_revoke(path, FP_A, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nothing is sanctioned"));
	assert_int_equal(entries_in_dir(), 0); /* nothing created by refused calls */

	snprintf(path, sizeof(path), "%s/missing-dir/keys", dir);
	assert_true(keyreg_sanction(path, FP_A, NULL, NULL, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "missing-dir"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_label_limit),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_fp_parse),
		cmocka_unit_test_setup_teardown(test_load, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_sanction_and_revoke, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_rewrite_keeps_comments, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_rewrite_is_atomic_replace, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_rewrite_refusals, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
