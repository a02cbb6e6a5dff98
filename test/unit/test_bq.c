/* test_bq: the body byte queue: appends across block boundaries come out in order whatever the
 * read sizes, an emptied queue owns no memory, clear frees everything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bq.h"

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 31 + seed) & 0xff);
}

/* Append <total> bytes in pieces of <in>, read them back in pieces of at most <out>. */
static void roundtrip(size_t total, size_t in, size_t out)
{
	char *src = malloc(total), *dst = malloc(total);
	struct bq q = { 0 };
	size_t at = 0, got = 0;

	fill(src, total, (unsigned)(in + out));
	while (at < total) {
		size_t k = total - at < in ? total - at : in;

		assert_true(bq_append(&q, src + at, k));
		at += k;
		assert_int_equal(q.len, at - got);
		/* interleave some reading with the writing */
		if (at % (3 * in) == 0 && q.len) {
			size_t n;
			const char *p = bq_peek(&q, &n);

			if (n > out)
				n = out;
			memcpy(dst + got, p, n);
			bq_consume(&q, n);
			got += n;
		}
	}
	while (q.len) {
		size_t n;
		const char *p = bq_peek(&q, &n);

		assert_true(n > 0);
		if (n > out)
			n = out;
		memcpy(dst + got, p, n);
		bq_consume(&q, n);
		got += n;
	}
	assert_int_equal(got, total);
	assert_memory_equal(src, dst, total);
	assert_null(q.head);
	assert_null(q.tail);
	free(src);
	free(dst);
}

static void test_roundtrip_sizes(void **state)
{
	static const size_t sizes[] = { 1, 7, 4096, BQ_BLOCK - 1, BQ_BLOCK, BQ_BLOCK + 1, 100000 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++)
			roundtrip(3 * BQ_BLOCK + 17, sizes[i], sizes[j]);
}

static void test_empty_and_clear(void **state)
{
	struct bq q = { 0 };
	char buf[100];
	size_t n;

	(void)state;
	assert_null(bq_peek(&q, &n));
	assert_int_equal(n, 0);
	assert_true(bq_append(&q, "", 0));
	assert_int_equal(q.len, 0);
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 1000; i++)
		assert_true(bq_append(&q, buf, sizeof(buf)));
	assert_int_equal(q.len, 100000);
	bq_consume(&q, 100000);
	assert_int_equal(q.len, 0);
	assert_null(q.head); /* an emptied queue holds no block */
	assert_true(bq_append(&q, buf, 10));
	bq_clear(&q);
	assert_int_equal(q.len, 0);
	assert_null(q.head);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_empty_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
