/* test_attrib: executable and user attribution against this very process and real accounts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "attrib.h"

static struct attrib_cache cache;

static void exe_of_self_and_cache(void **state)
{
	char self[PATH_MAX], comm[16] = "";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	prctl(PR_GET_NAME, comm);
	attrib_init(&cache);
	assert_string_equal(attrib_exe(&cache, getpid(), comm), self);
	assert_string_equal(attrib_exe(&cache, getpid(), comm), self);
	assert_int_equal(cache.exe_hits, 1);
	/* A different comm for the same pid (exec or pid reuse) forces a fresh look. */
	assert_string_equal(attrib_exe(&cache, getpid(), "other"), self);
	assert_int_equal(cache.exe_hits, 1);
}

static void gone_process(void **state)
{
	attrib_init(&cache);
	assert_string_equal(attrib_exe(&cache, 0x7ffffff0, "ghost"), "?");
}

static void users(void **state)
{
	attrib_init(&cache);
	assert_string_equal(attrib_user(&cache, 0), "root");
	assert_string_equal(attrib_user(&cache, 65534), "nobody");
	assert_string_equal(attrib_user(&cache, 4000000001u), "4000000001");
	/* Same slot, other uid: no stale answer. */
	assert_string_equal(attrib_user(&cache, 0 + ATTRIB_SLOTS * 7), "3584");
	assert_string_equal(attrib_user(&cache, 0), "root");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exe_of_self_and_cache),
		cmocka_unit_test(gone_process),
		cmocka_unit_test(users),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
