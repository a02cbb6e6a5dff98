/* test_flowlog: key=value formatting of flow lines — quoting and escaping of hostile values
 * (SNI and exe paths come from other programs), and truncation that stays terminated. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "flowlog.h"

static void plain_and_quoted(void **state)
{
	char buf[256];
	size_t off = 0;

	buf[0] = '\0';
	kv_append(buf, &off, sizeof(buf), "sni", "api.openai.com");
	kv_append(buf, &off, sizeof(buf), "exe", "/opt/my app/run");
	kv_append(buf, &off, sizeof(buf), "alpn", "");
	kv_append(buf, &off, sizeof(buf), "x", "a\"b=c\\d\n\x7f");
	assert_string_equal(buf, " sni=api.openai.com exe=\"/opt/my app/run\" alpn=\"\""
				 " x=\"a\\x22b=c\\x5cd\\x0a\\x7f\"");
	assert_int_equal(off, strlen(buf));
}

static void truncation_terminates(void **state)
{
	char buf[16];
	size_t off = 0;

	kv_append(buf, &off, sizeof(buf), "key", "a very long value that does not fit");
	assert_true(off < sizeof(buf));
	assert_int_equal(strlen(buf), off);
	kv_append(buf, &off, sizeof(buf), "more", "x");
	assert_true(off < sizeof(buf));
	assert_int_equal(strlen(buf), off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_and_quoted),
		cmocka_unit_test(truncation_terminates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
