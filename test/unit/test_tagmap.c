/* test_tagmap: the tag map file through its public API: parsing (errors with line and column),
 * precedence of group, user and exe rules, numeric and named selectors, quoted selectors,
 * unknown senders, and group membership looked up from the real NSS databases of this host
 * (root's primary group 0 is "root" on every Debian system). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tagmap.h"

static struct tagmap *parse(const char *text, char *err, size_t errlen)
{
	return tagmap_parse(text, strlen(text), "tags.map", err, errlen);
}

static void test_precedence_and_kinds(void **state)
{
	static const char text[] = "# comment\n"
				   "\n"
				   "exe   */python3*          tool=python,team=exe-team\n"
				   "user  alice               team=support,project=kb   # trailing\n"
				   "group root                team=ops,cost=c1\n"
				   "user  1001                project=numeric\n"
				   "exe   \"/opt/my app/bin/*\" tool=myapp\r\n"
				   "group 0                   site=g0\n";
	char err[256];
	struct tagmap *m = parse(text, err, sizeof(err));
	const char *lists[8];
	size_t n;

	assert_non_null(m);
	assert_int_equal(tagmap_rules(m), 6);
	assert_int_equal(tagmap_unresolved_groups(m), 0);

	/* root (uid 0, group root/0) running python: group rules first (file order), then the
	 * user rules (none match "root"), then exe rules. */
	n = tagmap_match(m, 0, "root", "/usr/bin/python3.11", lists, 8);
	assert_int_equal(n, 3);
	assert_string_equal(lists[0], "team=ops,cost=c1");
	assert_string_equal(lists[1], "site=g0");
	assert_string_equal(lists[2], "tool=python,team=exe-team");

	/* alice (uid 1001 here, unknown to NSS: no groups) with a quoted exe selector. */
	n = tagmap_match(m, 1001, "alice", "/opt/my app/bin/run", lists, 8);
	assert_int_equal(n, 3);
	assert_string_equal(lists[0], "team=support,project=kb");
	assert_string_equal(lists[1], "project=numeric");
	assert_string_equal(lists[2], "tool=myapp");

	/* Unknown sender: no user or group rules; unknown exe ("?" or ""): no exe rules. */
	n = tagmap_match(m, 0, "", "/usr/bin/python3", lists, 8);
	assert_int_equal(n, 1);
	assert_string_equal(lists[0], "tool=python,team=exe-team");
	assert_int_equal(tagmap_match(m, 0, "", "?", lists, 8), 0);
	assert_int_equal(tagmap_match(m, 4242, "nobody-here", "", lists, 8), 0);

	/* <max> bounds the output. */
	assert_int_equal(tagmap_match(m, 0, "root", "/usr/bin/python3", lists, 1), 1);
	assert_string_equal(lists[0], "team=ops,cost=c1");
	tagmap_free(m);
}

static void test_unknown_group_is_kept_not_fatal(void **state)
{
	char err[256];
	struct tagmap *m = parse("group no-such-group-on-this-host team=x\n", err, sizeof(err));
	const char *lists[4];

	assert_non_null(m);
	assert_int_equal(tagmap_unresolved_groups(m), 1);
	assert_int_equal(tagmap_match(m, 0, "root", "/bin/sh", lists, 4), 0);
	tagmap_free(m);
}

static void test_errors_have_positions(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"host x team=a\n", "tags.map:1:1: unknown rule kind"},
	    {"\n\nuser\n", "tags.map:3:5: missing selector"},
	    {"user alice\n", "tags.map:1:11: missing tags"},
	    {"user alice team\n", "tags.map:1:12: expected name=value"},
	    {"user alice team=\n", "tags.map:1:12: expected name=value"},
	    {"user alice =x\n", "tags.map:1:12: expected name=value"},
	    {"user alice team=a,\n", "tags.map:1:19: expected name=value"},
	    {"user alice team=a b=c\n", "tags.map:1:12: blank inside the tag list"},
	    {"user alice te$m=a\n", "tags.map:1:14: character not allowed"},
	    {"exe python3 tool=py\n", "tags.map:1:5: exe pattern must be an absolute path"},
	    {"exe \"/opt/x tool=py\n", "tags.map:1:5: unterminated quoted selector"},
	    {"exe \"/opt/x\"tool=py\n", "tags.map:1:13: expected a blank"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tagmap *m = parse(cases[i].text, err, sizeof(err));

		if (m || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got %s, want %s", i, m ? "a map" : err, cases[i].want);
	}
}

static void test_too_many_rules(void **state)
{
	size_t cap = (TAGMAP_RULES_MAX + 1) * 24 + 1, at = 0;
	char *text = malloc(cap), err[256];

	assert_non_null(text);
	for (int i = 0; i <= TAGMAP_RULES_MAX; i++)
		at += (size_t)snprintf(text + at, cap - at, "user u%d t=%d\n", i, i);
	assert_null(tagmap_parse(text, at, "tags.map", err, sizeof(err)));
	assert_non_null(strstr(err, "tags.map:1025:1: too many rules"));
	free(text);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_tagmap.XXXXXX", err[256];
	int fd = mkstemp(path);
	const char *lists[2];
	struct tagmap *m;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "user root a=b\n", 14), 14);
	close(fd);
	m = tagmap_load_file(path, err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(tagmap_match(m, 0, "root", "", lists, 2), 1);
	tagmap_free(m);
	unlink(path);
	assert_null(tagmap_load_file(path, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_precedence_and_kinds),
	    cmocka_unit_test(test_unknown_group_is_kept_not_fatal),
	    cmocka_unit_test(test_errors_have_positions),
	    cmocka_unit_test(test_too_many_rules),
	    cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
