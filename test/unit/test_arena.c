/* test_arena: the per-connection allocator — alignment, zeroing, growth, and the hard cap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arena.h"

static void alloc_aligned_zeroed(void **state)
{
	struct arena a;
	char *p, *q;
	int i;

	arena_init(&a, 1 << 20);
	for (i = 1; i < 200; i++) {
		p = arena_alloc(&a, i);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		for (int j = 0; j < i; j++)
			assert_int_equal(p[j], 0);
		memset(p, 0xab, i);
	}
	q = arena_strdup(&a, "api.openai.com");
	assert_string_equal(q, "api.openai.com");
	assert_null(arena_strdup(&a, NULL));
	/* Larger than the current chunk: a new chunk big enough. */
	assert_non_null(arena_alloc(&a, 100000));
	arena_release(&a);
	assert_int_equal(a.used, 0);
	assert_null(a.head);
	assert_non_null(arena_alloc(&a, 10)); /* usable again */
	arena_release(&a);
}

static void cap_is_hard(void **state)
{
	struct arena a;

	arena_init(&a, 64);
	assert_non_null(arena_alloc(&a, 48));
	assert_null(arena_alloc(&a, 32)); /* 48 + 32 > 64 */
	assert_non_null(arena_alloc(&a, 16));
	assert_null(arena_alloc(&a, 1));
	assert_null(arena_alloc(&a, 0));
	assert_null(arena_alloc(&a, SIZE_MAX)); /* no overflow on rounding */
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alloc_aligned_zeroed),
		cmocka_unit_test(cap_is_hard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
