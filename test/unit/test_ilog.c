/* test_ilog: the intercept log's write side on real SQLite files - every field round-trips
 * (sentinels as SQL NULL), strings are copied and bounded, invalid records are refused (a raw key
 * in the fingerprint field never reaches disk), batching by size and by time, queue-full drops
 * counted exactly, payload retention and its caps, file and directory modes, close flushes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "test_ilog_util.h"

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

static struct ilog *open_log(const char *path, const struct ilog_opts *o)
{
	char err[512] = "";
	struct ilog *log = ilog_open(path, o, err, sizeof(err));

	if (!log)
		fprintf(stderr, "ilog_open: %s\n", err);
	assert_non_null(log);
	return log;
}

/* Every field set to a value distinct from its default and from the other fields. */
static void full_record(struct ilog_record *r)
{
	ilog_record_init(r);
	r->start_ms = 1714565000123;
	r->end_ms = 1714565004567;
	r->flow_id = 0xfedcba9876543210ull; /* above INT64_MAX: stored as the same 64 bits */
	r->seq = 7;
	r->pid = 4242;
	r->uid = 1001;
	r->http_status = 429;
	r->stream = true;
	r->price_known = true;
	r->estimated = true;
	r->key_state = ILOG_KEY_SHADOW;
	r->decision = ILOG_DECISION_DOWNGRADE;
	r->rule_index = 3;
	r->leaked_keys = 2;
	r->tokens_in = 1200;
	r->tokens_out = 340;
	r->tokens_cached = 1024;
	r->tokens_cache_write = 55;
	r->tokens_reasoning = 128;
	r->cost_micro = 9876543210;
	r->ttfb_ms = 321;
	r->total_ms = 4444;
	r->bytes_up = 5000000000ull;
	r->bytes_down = 77;
	ILOG_SET(r, host, "build-host-01");
	ILOG_SET(r, exe, "/opt/app bin/r\xc3\xa9sum\xc3\xa9");
	ILOG_SET(r, user, "alice");
	ILOG_SET(r, provider, "anthropic");
	ILOG_SET(r, endpoint, "/v1/messages");
	ILOG_SET(r, model_requested, "claude-3-5-sonnet-latest");
	ILOG_SET(r, model_served, "claude-3-5-haiku-20241022");
	ILOG_SET(r, tags, "team=support,project=kb");
	ti_fp(r->key_fp, 0xa1);
	ILOG_SET(r, key_last4, "Wx9z");
	ILOG_SET(r, key_format, "anthropic-api03");
	ILOG_SET(r, rule_group, "@cheap");
	ILOG_SET(r, rule_trace, "rule 3: budget.used_pct >= 0.9 (0.93) -> @cheap");
	ILOG_SET(r, error, "upstream_reset");
}

static void assert_record_equal(const struct ilog_record *a, const struct ilog_record *b)
{
	assert_int_equal(a->start_ms, b->start_ms);
	assert_int_equal(a->end_ms, b->end_ms);
	assert_true(a->flow_id == b->flow_id);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->http_status, b->http_status);
	assert_int_equal(a->stream, b->stream);
	assert_int_equal(a->price_known, b->price_known);
	assert_int_equal(a->estimated, b->estimated);
	assert_int_equal(a->key_state, b->key_state);
	assert_int_equal(a->decision, b->decision);
	assert_int_equal(a->rule_index, b->rule_index);
	assert_int_equal(a->leaked_keys, b->leaked_keys);
	assert_int_equal(a->tokens_in, b->tokens_in);
	assert_int_equal(a->tokens_out, b->tokens_out);
	assert_int_equal(a->tokens_cached, b->tokens_cached);
	assert_int_equal(a->tokens_cache_write, b->tokens_cache_write);
	assert_int_equal(a->tokens_reasoning, b->tokens_reasoning);
	assert_int_equal(a->cost_micro, b->cost_micro);
	assert_int_equal(a->ttfb_ms, b->ttfb_ms);
	assert_int_equal(a->total_ms, b->total_ms);
	assert_true(a->bytes_up == b->bytes_up);
	assert_true(a->bytes_down == b->bytes_down);
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->exe, b->exe);
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->provider, b->provider);
	assert_string_equal(a->endpoint, b->endpoint);
	assert_string_equal(a->model_requested, b->model_requested);
	assert_string_equal(a->model_served, b->model_served);
	assert_string_equal(a->tags, b->tags);
	assert_string_equal(a->key_fp, b->key_fp);
	assert_string_equal(a->key_last4, b->key_last4);
	assert_string_equal(a->key_format, b->key_format);
	assert_string_equal(a->rule_group, b->rule_group);
	assert_string_equal(a->rule_trace, b->rule_trace);
	assert_string_equal(a->error, b->error);
}

static void round_trip_every_field(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {.host = "default-host"};
	struct ilog_record full, bare, bare_expected;
	struct ti_rows rows;
	struct ilog *log = open_log(d->path, &o);

	full_record(&full);
	/* Sentinels: no key, no price, no ttfb, no rule, unknown pid/uid, host left empty. */
	ti_record(&bare, 2, 1, 1714565009000);
	assert_int_equal(ilog_submit(log, &full, NULL), 0);
	assert_int_equal(ilog_submit(log, &bare, NULL), 0);
	assert_int_equal(ilog_close(log, NULL), 0);

	assert_int_equal(ti_query(d->path, NULL, &rows), 0);
	assert_int_equal(rows.n, 2);
	assert_record_equal(&rows.v[0].rec, &full);
	bare_expected = bare;
	ILOG_SET(&bare_expected, host, "default-host");
	assert_record_equal(&rows.v[1].rec, &bare_expected);
	assert_true(rows.v[0].id < rows.v[1].id);
	assert_false(rows.v[0].has_payload);
	ti_rows_free(&rows);

	/* Unknowns are SQL NULL, so aggregates never mistake them for zero. */
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records WHERE flow_id = 2 AND"
					     " pid IS NULL AND uid IS NULL AND key_fp IS NULL AND"
					     " cost_micro IS NULL AND ttfb_ms IS NULL AND"
					     " rule_index IS NULL AND key_state = 'none' AND"
					     " decision = 'none'"),
			 1);
	assert_int_equal(ti_sql_int(d->path, "SELECT sum(cost_micro) FROM records"), 9876543210);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records WHERE"
					     " decision = 'downgrade' AND key_state = 'shadow'"),
			 1);
}

static void strings_are_copied_and_bounded(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_record r;
	struct ti_rows rows;
	char small[5], tags[16];
	struct ilog *log;

	/* ilog_set truncates before a character that does not fit. */
	ilog_set(small, sizeof(small), "abc\xc3\xa9"); /* 5 bytes: a b c e-acute */
	assert_string_equal(small, "abc");
	ilog_set(small, sizeof(small), "ab\xe2\x82\xac"); /* euro sign, 3 bytes */
	assert_string_equal(small, "ab");
	ilog_set(small, sizeof(small), "abcd");
	assert_string_equal(small, "abcd");
	ilog_set(small, sizeof(small), NULL);
	assert_string_equal(small, "");

	log = open_log(d->path, NULL);
	ti_record(&r, 1, 1, 1000);
	/* A field without a terminator is cut at its last byte, never read past. */
	memset(r.exe, 'x', sizeof(r.exe));
	snprintf(tags, sizeof(tags), "team=a");
	ILOG_SET(&r, tags, tags);
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
	/* The caller's buffers may change at once: the record was copied. */
	memset(&r, 0x55, sizeof(r));
	snprintf(tags, sizeof(tags), "team=b");
	assert_int_equal(ilog_close(log, NULL), 0);

	assert_int_equal(ti_query(d->path, NULL, &rows), 0);
	assert_int_equal(rows.n, 1);
	assert_int_equal(strlen(rows.v[0].rec.exe), ILOG_EXE_LEN - 1);
	assert_int_equal(strspn(rows.v[0].rec.exe, "x"), ILOG_EXE_LEN - 1);
	assert_string_equal(rows.v[0].rec.tags, "team=a");
	assert_string_equal(rows.v[0].rec.provider, "openai");
	ti_rows_free(&rows);
}

static void invalid_records_refused_raw_key_never_on_disk(void **state)
{
	static const char raw[] = "sk-proj-Zq8vR2mN4kL7pX1cT9bW3yH6fD5sA0eJ";
	struct ti_dir *d = *state;
	struct ilog_record r;
	struct ilog_stats st;
	char p[160];
	struct ilog *log = open_log(d->path, NULL);

	ti_record(&r, 1, 1, 1000);
	ILOG_SET(&r, key_fp, raw); /* a caller bug: the raw key where the fingerprint goes */
	assert_int_equal(ilog_submit(log, &r, NULL), -EINVAL);
	ti_fp(r.key_fp, 3);
	r.key_fp[10] = 'A'; /* uppercase hex is not our fingerprint format */
	assert_int_equal(ilog_submit(log, &r, NULL), -EINVAL);
	ti_fp(r.key_fp, 3);
	r.key_fp[63] = '\0'; /* 63 digits */
	assert_int_equal(ilog_submit(log, &r, NULL), -EINVAL);
	ti_fp(r.key_fp, 3);
	r.decision = (enum ilog_decision)7;
	assert_int_equal(ilog_submit(log, &r, NULL), -EINVAL);
	r.decision = ILOG_DECISION_ALLOW;
	r.key_state = (enum ilog_key_state)9;
	assert_int_equal(ilog_submit(log, &r, NULL), -EINVAL);
	r.key_state = ILOG_KEY_SANCTIONED;
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	ilog_stats(log, &st);
	assert_int_equal(st.rejected, 5);
	assert_int_equal(st.submitted, 1);
	assert_int_equal(st.written, 1);
	/* Checked while the WAL still holds the transaction, and after the checkpoint. */
	snprintf(p, sizeof(p), "%s-wal", d->path);
	assert_true(ti_file_contains(p, r.key_fp));
	assert_false(ti_file_contains(p, raw));
	assert_int_equal(ilog_close(log, NULL), 0);
	assert_true(ti_file_contains(d->path, r.key_fp));
	assert_false(ti_file_contains(d->path, raw));
	assert_false(ti_file_contains(d->path, "Zq8vR2mN"));
}

static void batches_by_size_and_by_time(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {.batch_max = 10, .batch_ms = 60000};
	struct ilog_record r;
	struct ilog_stats st;
	struct ilog *log = open_log(d->path, &o);

	/* A full batch is written at once, without waiting for batch_ms - also when the writer is
	 * already waiting for the batch to fill. */
	for (int i = 0; i < 10; i++) {
		ti_record(&r, 1, (uint64_t)i + 1, 1000 + i);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
		if (i == 0)
			ti_sleep_ms(50);
	}
	st = ti_wait_written(log, 10, 10000);
	assert_int_equal(st.written, 10);
	assert_int_equal(st.batches, 1);
	/* Fewer than batch_max wait for batch_ms (a minute here) ... */
	for (int i = 10; i < 15; i++) {
		ti_record(&r, 1, (uint64_t)i + 1, 1000 + i);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
	}
	ti_sleep_ms(200);
	ilog_stats(log, &st);
	assert_int_equal(st.written, 10);
	assert_int_equal(st.queue_depth, 5);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), 10);
	/* ... unless a flush asks for them. */
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	ilog_stats(log, &st);
	assert_int_equal(st.written, 15);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.queue_depth, 0);
	assert_true(st.last_commit_ms > 1700000000000);
	/* Flushed 25 records go out in transactions of at most batch_max. */
	for (int i = 15; i < 40; i++) {
		ti_record(&r, 1, (uint64_t)i + 1, 1000 + i);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
	}
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	ilog_stats(log, &st);
	assert_int_equal(st.written, 40);
	assert_true(st.batches >= 5);
	assert_int_equal(ilog_close(log, NULL), 0);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(DISTINCT seq) FROM records"), 40);
}

static void batch_timer_commits_without_flush(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {.batch_ms = 30};
	struct ilog_record r;
	struct ilog_stats st;
	struct ilog *log = open_log(d->path, &o);
	int64_t t0 = ti_now_ms();

	ti_record(&r, 1, 1, 1000);
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
	st = ti_wait_written(log, 1, 5000);
	assert_int_equal(st.written, 1);
	/* Not before batch_ms (the timer, not an eager write, committed it). */
	assert_true(ti_now_ms() - t0 >= 25);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), 1);
	assert_int_equal(ilog_close(log, NULL), 0);
}

static void queue_full_drops_counted(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {.queue_capacity = 16, .batch_max = 16};
	struct ilog_record r;
	struct ilog_stats st;
	unsigned accepted = 0, refused = 0;
	struct ilog *log = open_log(d->path, &o);

	/* 5000 submissions take a few ms; the writer commits 16 per transaction: most drop. */
	for (unsigned i = 0; i < 5000; i++) {
		int rc;

		ti_record(&r, 9, i + 1, 1000 + i);
		rc = ilog_submit(log, &r, NULL);
		if (rc == 0)
			accepted++;
		else if (rc == -ENOBUFS)
			refused++;
		else
			fail_msg("unexpected %d", rc);
	}
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	ilog_stats(log, &st);
	assert_true(refused > 0);
	assert_true(accepted >= 16);
	assert_int_equal(st.submitted, accepted);
	assert_int_equal(st.dropped_queue_full, refused);
	assert_int_equal(st.dropped_disk, 0);
	assert_int_equal(st.written, accepted);
	assert_int_equal(st.queue_capacity, 16);
	assert_int_equal(ilog_close(log, NULL), 0);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), accepted);
}

struct payload_seen {
	int n;
	size_t req_stored[5], resp_stored[5];
	uint64_t req_len[5], resp_len[5];
	bool has[5];
	char first_req[8];
};

static int payload_cb(void *ctx, const struct ilog_row *row)
{
	struct payload_seen *s = ctx;

	if (s->n < 5) {
		s->has[s->n] = row->has_payload;
		s->req_stored[s->n] = row->request_stored;
		s->resp_stored[s->n] = row->response_stored;
		s->req_len[s->n] = row->request_len;
		s->resp_len[s->n] = row->response_len;
		if (s->n == 0 && row->request)
			snprintf(s->first_req, sizeof(s->first_req), "%.*s",
				 (int)(row->request_stored < 7 ? row->request_stored : 7),
				 (const char *)row->request);
	}
	s->n++;
	return 0;
}

static void payload_retention_capped(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {.payload_cap_max = 4096, .payload_queue_max = 6000};
	static char req[100], resp[5000];
	struct ilog_payload p = {req, sizeof(req), resp, sizeof(resp), 1000};
	struct ilog_filter f = {.with_payload = true};
	struct payload_seen seen = {0};
	struct ilog_record r;
	struct ilog_stats st;
	char err[256];
	struct ilog *log = open_log(d->path, &o);

	memset(req, 'q', sizeof(req));
	memcpy(req, "{\"mode", 6);
	memset(resp, 'r', sizeof(resp));
	ti_record(&r, 1, 1, 1000);
	assert_int_equal(ilog_submit(log, &r, &p), 0); /* capped at 1000 per side */
	ti_record(&r, 1, 2, 1001);
	assert_int_equal(ilog_submit(log, &r, NULL), 0); /* off */
	p.cap = 1u << 30;				 /* capped by payload_cap_max */
	ti_record(&r, 1, 3, 1002);
	assert_int_equal(ilog_submit(log, &r, &p), 0);
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	/* Over payload_queue_max while queued: the record stays, its payload goes. Held back by
	 * a long batch so both wait in the queue together. */
	assert_int_equal(ilog_close(log, NULL), 0);
	o.batch_ms = 60000;
	log = open_log(d->path, &o);
	ti_record(&r, 1, 4, 1003);
	assert_int_equal(ilog_submit(log, &r, &p), 0); /* 100 + 4096 queued */
	ti_record(&r, 1, 5, 1004);
	assert_int_equal(ilog_submit(log, &r, &p), 0); /* another 4196 > 6000: dropped */
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	ilog_stats(log, &st);
	assert_int_equal(st.payloads_dropped, 1);
	assert_int_equal(st.written, 2);
	assert_int_equal(ilog_close(log, NULL), 0);

	assert_int_equal(ilog_query(d->path, &f, payload_cb, &seen, err, sizeof(err)), 0);
	assert_int_equal(seen.n, 5);
	assert_true(seen.has[0]);
	assert_int_equal(seen.req_stored[0], 100);
	assert_int_equal(seen.req_len[0], 100);
	assert_int_equal(seen.resp_stored[0], 1000);
	assert_int_equal(seen.resp_len[0], 5000);
	assert_string_equal(seen.first_req, "{\"modeq");
	assert_false(seen.has[1]);
	assert_true(seen.has[2]);
	assert_int_equal(seen.req_stored[2], 100);
	assert_int_equal(seen.resp_stored[2], 4096);
	assert_true(seen.has[3]);
	assert_false(seen.has[4]);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM payloads"), 3);
}

static void file_and_directory_modes(void **state)
{
	struct ti_dir *d = *state;
	char path[256], wal[272], dir[256];
	struct stat sb;
	struct ilog_record r;
	mode_t old = umask(0); /* even a permissive umask must not widen them */
	struct ilog *log;

	snprintf(dir, sizeof(dir), "%s/a/b", d->dir);
	snprintf(path, sizeof(path), "%s/a/b/log.db", d->dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	log = open_log(path, NULL);
	umask(old);
	ti_record(&r, 1, 1, 1000);
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(dir, sizeof(dir), "%s/a", d->dir);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(ilog_close(log, NULL), 0);

	/* A path whose parent is a file is refused with a message. */
	{
		char bad[300], err[256] = "";

		snprintf(bad, sizeof(bad), "%s/x.db", path);
		assert_null(ilog_open(bad, NULL, err, sizeof(err)));
		assert_non_null(strstr(err, "not a directory"));
		assert_null(ilog_open("", NULL, err, sizeof(err)));
	}
}

static void close_commits_everything_queued(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_opts o = {.batch_ms = 60000, .batch_max = 1000};
	struct ilog_record r;
	struct ilog_stats st;
	struct ilog *log = open_log(d->path, &o);

	for (int i = 0; i < 300; i++) {
		ti_record(&r, 5, (uint64_t)i + 1, 1000 + i);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
	}
	assert_int_equal(ilog_close(log, &st), 0);
	assert_int_equal(st.written, 300);
	assert_int_equal(st.queue_depth, 0);
	assert_int_equal(st.write_errors, 0);
	assert_false(st.failing);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), 300);
	assert_int_equal(ilog_close(NULL, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(round_trip_every_field, setup, teardown),
	    cmocka_unit_test_setup_teardown(strings_are_copied_and_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(invalid_records_refused_raw_key_never_on_disk, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(batches_by_size_and_by_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(batch_timer_commits_without_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(queue_full_drops_counted, setup, teardown),
	    cmocka_unit_test_setup_teardown(payload_retention_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(file_and_directory_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(close_commits_everything_queued, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
