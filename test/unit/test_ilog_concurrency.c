/* test_ilog_concurrency: two producer threads submit 10,000 records each (retrying when the queue
 * is full, so every refusal is counted) while a reader thread queries the file: every record is
 * written exactly once, each producer's records keep their order, the counters add up, the key
 * inventory matches the records, and the reader never fails and never sees the count go down. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "test_ilog_util.h"

#define PER_THREAD 10000

struct producer {
	struct ilog *log;
	unsigned flow;
	unsigned long retries;
	int bad_rc;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	struct ilog_record r;

	for (unsigned i = 1; i <= PER_THREAD; i++) {
		int rc;

		ti_record(&r, p->flow, i, 1714565000000LL + i);
		ti_fp(r.key_fp, p->flow);
		r.key_state = ILOG_KEY_SHADOW;
		r.price_known = true;
		r.cost_micro = p->flow; /* spend per key: flow * PER_THREAD */
		while ((rc = ilog_submit(p->log, &r, NULL)) == -ENOBUFS) {
			p->retries++;
			sched_yield();
		}
		if (rc)
			p->bad_rc = rc;
	}
	return NULL;
}

struct reader {
	const char *path;
	atomic_bool stop;
	int runs, errors, went_down;
	int64_t last;
};

static int count_cb(void *ctx, const struct ilog_row *row)
{
	(*(int64_t *)ctx)++;
	return 0;
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	char err[256];

	while (!atomic_load(&rd->stop)) {
		int64_t n = 0;

		if (ilog_query(rd->path, NULL, count_cb, &n, err, sizeof(err)) != 0)
			rd->errors++;
		else if (n < rd->last)
			rd->went_down++;
		else
			rd->last = n;
		rd->runs++;
		ti_sleep_ms(20);
	}
	return NULL;
}

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

static void two_producers_all_written_once(void **state)
{
	struct ti_dir d = *(struct ti_dir *)*state;
	struct ilog_opts o = {.queue_capacity = 1024};
	struct producer p[2];
	struct reader rd = {0};
	pthread_t t[2], rt;
	struct ilog_stats st;
	char err[256], sql[160];
	struct ilog *log;

	log = ilog_open(d.path, &o, err, sizeof(err));
	assert_non_null(log);
	/* The reader needs the file to be a log already. */
	assert_int_equal(ilog_flush_wait(log, 1000), 0);
	rd.path = d.path;
	for (int i = 0; i < 2; i++) {
		p[i] = (struct producer){.log = log, .flow = (unsigned)i + 1};
		assert_int_equal(pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
	}
	assert_int_equal(pthread_create(&rt, NULL, reader_main, &rd), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(ilog_flush_wait(log, 30000), 0);
	atomic_store(&rd.stop, true);
	assert_int_equal(pthread_join(rt, NULL), 0);
	assert_int_equal(ilog_close(log, &st), 0);

	assert_int_equal(p[0].bad_rc, 0);
	assert_int_equal(p[1].bad_rc, 0);
	assert_int_equal(st.submitted, 2 * PER_THREAD);
	assert_int_equal(st.written, 2 * PER_THREAD);
	assert_int_equal(st.dropped_queue_full, p[0].retries + p[1].retries);
	assert_int_equal(st.dropped_disk, 0);
	assert_int_equal(st.write_errors, 0);
	assert_true(rd.runs > 0);
	assert_int_equal(rd.errors, 0);
	assert_int_equal(rd.went_down, 0);

	assert_int_equal(ti_sql_int(d.path, "SELECT count(*) FROM records"), 2 * PER_THREAD);
	assert_int_equal(ti_sql_int(d.path, "SELECT count(*) FROM (SELECT DISTINCT flow_id, seq"
					    " FROM records)"),
			 2 * PER_THREAD);
	for (unsigned f = 1; f <= 2; f++) {
		/* Each producer's records were committed in its submission order. */
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY id) AS prev"
			 " FROM records WHERE flow_id = %u) WHERE seq != coalesce(prev, 0) + 1",
			 f);
		assert_int_equal(ti_sql_int(d.path, sql), 0);
		snprintf(sql, sizeof(sql),
			 "SELECT min(seq) * 100000 + max(seq) FROM records WHERE flow_id = %u", f);
		assert_int_equal(ti_sql_int(d.path, sql), 100000 + PER_THREAD);
		snprintf(sql, sizeof(sql),
			 "SELECT requests * 1000 + spend_micro / %u / %u FROM keys"
			 " WHERE fingerprint = (SELECT key_fp FROM records WHERE flow_id = %u"
			 " LIMIT 1)",
			 f, PER_THREAD, f);
		assert_int_equal(ti_sql_int(d.path, sql), PER_THREAD * 1000 + 1);
	}
	assert_int_equal(ti_sql_int(d.path, "SELECT sum(requests) FROM key_usage"), 2 * PER_THREAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(two_producers_all_written_once, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
