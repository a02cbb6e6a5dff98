/* test_ilog_diskfull: a full disk, simulated with PRAGMA max_page_count on the writer's
 * connection. While commits fail the batch is kept and retried, the queue absorbs what it can,
 * what it cannot is refused and counted as dropped_disk (exactly), submit never waits, the error
 * is readable from ilog_stats; when space returns the writer recovers on its own and every
 * accepted record is written once. Closing on a full disk gives up after close_timeout_ms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_ilog_util.h"

#define CAP 64

static int setup(void **state)
{
	struct ti_dir *d = calloc(1, sizeof(*d));

	ti_dir_make(d);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	ti_dir_remove(*state);
	free(*state);
	return 0;
}

static void disk_record(struct ilog_record *r, unsigned seq)
{
	ti_record(r, 3, seq, 1714565000000 + seq);
	ti_fp(r->key_fp, seq % 5);
	r->key_state = ILOG_KEY_SANCTIONED;
	ILOG_SET(r, rule_trace,
		 "a trace long enough that a few records fill a page of the database");
}

/* Caps the database at its current size and submits one record at a time until a commit fails.
 * Returns the next seq to use. */
static unsigned fill_until_failing(struct ilog *log, unsigned seq)
{
	struct ilog_record r;
	struct ilog_stats st;

	ilog_set_page_limit(log, 1); /* SQLite raises it to the current page count */
	for (int i = 0; i < 5000; i++) {
		disk_record(&r, seq++);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
		if (ilog_flush_wait(log, 300) == -ETIMEDOUT) {
			ilog_stats(log, &st);
			if (st.failing)
				return seq;
		}
	}
	fail_msg("the page limit never made a commit fail");
	return seq;
}

static void full_disk_counts_drops_and_recovers(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {.queue_capacity = CAP, .batch_max = 8, .retry_max_ms = 40};
	struct ilog_record r;
	struct ilog_stats st, st2;
	char err[256];
	unsigned seq = 1, accepted = 0, refused = 0, room;
	uint64_t written_at_failure;
	int64_t t0;
	struct ilog *log = ilog_open(d->path, &o, err, sizeof(err));

	assert_non_null(log);
	for (; seq <= 20; seq++) {
		disk_record(&r, seq);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
	}
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	seq = fill_until_failing(log, seq);

	ilog_stats(log, &st);
	assert_true(st.failing);
	assert_true(st.write_errors >= 1);
	assert_int_equal(st.last_error_code & 0xff, SQLITE_FULL);
	assert_non_null(strstr(st.last_error, "full"));
	assert_true(st.last_error_ms > 1700000000000);
	assert_true(st.queue_depth >= 1);
	written_at_failure = st.written;
	assert_int_equal(st.written + st.queue_depth, st.submitted);

	/* The queue takes exactly what fits; the rest is refused at once and counted as lost to
	 * the disk (not to a slow writer). */
	room = CAP - st.queue_depth;
	t0 = ti_now_ms();
	for (unsigned i = 0; i < 100; i++) {
		int rc;

		disk_record(&r, seq++);
		rc = ilog_submit(log, &r, NULL);
		if (rc == 0)
			accepted++;
		else if (rc == -ENOBUFS)
			refused++;
		else
			fail_msg("unexpected %d", rc);
	}
	assert_true(ti_now_ms() - t0 < 1000); /* never waited on the disk */
	assert_int_equal(accepted, room);
	assert_int_equal(refused, 100 - room);
	ilog_stats(log, &st2);
	assert_int_equal(st2.dropped_disk, 100 - room);
	assert_int_equal(st2.dropped_queue_full, 0);
	assert_int_equal(st2.queue_depth, CAP);
	assert_int_equal(ilog_flush_wait(log, 100), -ETIMEDOUT);

	/* Retries keep failing while the disk is full, without writing anything. */
	ti_sleep_ms(300);
	ilog_stats(log, &st2);
	assert_true(st2.write_errors > st.write_errors);
	assert_int_equal(st2.written, written_at_failure);
	assert_true(st2.failing);

	/* Space returns: recovery without a restart, every accepted record written once. */
	ilog_set_page_limit(log, 0);
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	ilog_stats(log, &st2);
	assert_false(st2.failing);
	assert_int_equal(st2.queue_depth, 0);
	assert_int_equal(st2.written, st2.submitted);
	assert_int_equal(st2.submitted, (uint64_t)seq - 1 - (100 - room));
	assert_int_equal(st2.dropped_disk, 100 - room);
	assert_non_null(strstr(st2.last_error, "full")); /* kept for the record */
	/* New records flow again. */
	disk_record(&r, seq++);
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
	assert_int_equal(ilog_close(log, &st2), 0);
	assert_int_equal(st2.written, st2.submitted);

	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), st2.written);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(DISTINCT seq) FROM records"),
			 st2.written);
	assert_int_equal(ti_sql_int(d->path, "SELECT sum(requests) FROM keys"), st2.written);
	/* The refused ones are exactly the last 100 - room of the burst. */
	{
		char sql[160];

		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM records WHERE seq >= %u AND seq < %u",
			 seq - 1 - (100 - room), seq - 1);
		assert_int_equal(ti_sql_int(d->path, sql), 0);
	}
}

static void close_on_full_disk_gives_up_and_counts(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {
	    .queue_capacity = CAP, .batch_max = 8, .close_timeout_ms = 300, .retry_max_ms = 50};
	struct ilog_record r;
	struct ilog_stats st;
	char err[256];
	unsigned seq, queued;
	int64_t t0;
	struct ilog *log = ilog_open(d->path, &o, err, sizeof(err));

	assert_non_null(log);
	seq = fill_until_failing(log, 1);
	for (int i = 0; i < 10; i++) {
		disk_record(&r, seq++);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
	}
	ilog_stats(log, &st);
	queued = st.queue_depth;
	assert_true(queued >= 11);
	t0 = ti_now_ms();
	assert_int_equal(ilog_close(log, &st), -EIO);
	assert_true(ti_now_ms() - t0 >= 250); /* kept retrying for close_timeout_ms */
	assert_true(ti_now_ms() - t0 < 5000);
	assert_int_equal(st.dropped_disk, queued);
	assert_int_equal(st.written + st.dropped_disk, st.submitted);
	assert_int_equal(st.queue_depth, 0);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), st.written);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(full_disk_counts_drops_and_recovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(close_on_full_disk_gives_up_and_counts, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
