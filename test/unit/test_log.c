/* test_log: the agent's line log through its public API, with stderr redirected to a pipe: one
 * whole line per message, the level filter, and the per-thread batch (gathered lines reach
 * stderr only at log_batch_end, an error or warning is written at once after what was gathered,
 * a line longer than what is left flushes first, and outside a batch every line goes at once). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int saved_stderr = -1, rd = -1;

static int setup(void **state)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK) < 0)
		return -1;
	saved_stderr = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	rd = p[0];
	log_set_level(MLX_LOG_INFO);
	return 0;
}

static int teardown(void **state)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	close(rd);
	return 0;
}

/* What stderr received since the last call ("" when nothing). */
static const char *drain(void)
{
	static char buf[65536];
	ssize_t n, at = 0;

	while ((n = read(rd, buf + at, sizeof(buf) - 1 - (size_t)at)) > 0)
		at += n;
	buf[at] = '\0';
	return buf;
}

static void lines_and_levels(void **state)
{
	log_info("hello %d", 42);
	assert_string_equal(drain(), "<6>hello 42\n");
	log_debug("not shown at info");
	assert_string_equal(drain(), "");
	log_err("bad %s", "thing");
	assert_string_equal(drain(), "<3>bad thing\n");
}

static void batch_gathers_until_end(void **state)
{
	log_batch_begin();
	log_info("one");
	log_info("two");
	assert_string_equal(drain(), "");
	log_batch_end();
	assert_string_equal(drain(), "<6>one\n<6>two\n");
	/* after the batch: at once again */
	log_info("three");
	assert_string_equal(drain(), "<6>three\n");
}

static void warning_flushes_in_order(void **state)
{
	log_batch_begin();
	log_info("before");
	log_warn("careful");
	assert_string_equal(drain(), "<6>before\n<4>careful\n");
	log_info("after");
	assert_string_equal(drain(), "");
	log_batch_end();
	assert_string_equal(drain(), "<6>after\n");
}

static void full_batch_flushes_first(void **state)
{
	char big[1500];
	const char *got;
	size_t total = 0;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_batch_begin();
	for (int i = 0; i < 8; i++)
		log_info("%d:%s", i, big); /* 8 x ~1.5 KB: more than the 8 KiB batch holds */
	got = drain();
	assert_true(strlen(got) > 0); /* the gathered lines went when the next did not fit */
	total += strlen(got);
	assert_int_equal(got[strlen(got) - 1], '\n'); /* whole lines only */
	log_batch_end();
	total += strlen(drain());
	assert_int_equal(total, 8 * (3 + 2 + strlen(big) + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(lines_and_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(batch_gathers_until_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(warning_flushes_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_batch_flushes_first, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
