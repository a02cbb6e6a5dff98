/* test_pinset: the (executable, SNI) memory of clients that refuse our certificate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "pinset.h"

static struct pinset ps;

static void add_and_find(void **state)
{
	pinset_init(&ps);
	assert_false(pinset_has(&ps, "/usr/bin/curl", "api.openai.com"));
	assert_true(pinset_add(&ps, "/usr/bin/curl", "api.openai.com"));
	assert_false(pinset_add(&ps, "/usr/bin/curl", "api.openai.com")); /* already there */
	assert_true(pinset_has(&ps, "/usr/bin/curl", "api.openai.com"));
	/* The pair is what counts: same exe other SNI, same SNI other exe. */
	assert_false(pinset_has(&ps, "/usr/bin/curl", "api.anthropic.com"));
	assert_false(pinset_has(&ps, "/usr/bin/python3", "api.openai.com"));
	/* No ambiguity from where the boundary between the two strings falls. */
	assert_true(pinset_add(&ps, "ab", "c"));
	assert_false(pinset_has(&ps, "a", "bc"));
}

static void full_table_stops_learning(void **state)
{
	char sni[64];
	int i, added = 0;

	pinset_init(&ps);
	for (i = 0; i < PINSET_SLOTS; i++) {
		snprintf(sni, sizeof(sni), "host%d.example", i);
		added += pinset_add(&ps, "/bin/x", sni);
	}
	assert_int_equal(added, PINSET_SLOTS * 3 / 4);
	assert_true(pinset_has(&ps, "/bin/x", "host0.example"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_and_find),
		cmocka_unit_test(full_table_stops_learning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
