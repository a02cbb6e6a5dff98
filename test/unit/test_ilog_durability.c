/* test_ilog_durability: the durability rule across kill -9. A forked child writes through the
 * log and kills itself with SIGKILL (no close, no checkpoint, the WAL left behind); the parent
 * then reads the file read-only, as modeluxctl would, and must find every record that reached its
 * commit point - after ilog_flush_wait, or after batch_ms on the writer's own timer - with the key
 * inventory consistent with the records (same transaction) and the database intact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

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

/* Child side: record <seq> of flow 77, with one of three keys. */
static void child_record(struct ilog_record *r, unsigned seq)
{
	ti_record(r, 77, seq, 1714565000000 + seq);
	ti_fp(r->key_fp, seq % 3);
	r->key_state = ILOG_KEY_SHADOW;
	r->price_known = true;
	r->cost_micro = 10;
}

static struct ilog *child_open(const char *path, uint32_t batch_ms)
{
	struct ilog_opts o = {.batch_ms = batch_ms};
	char err[256];
	struct ilog *log = ilog_open(path, &o, err, sizeof(err));

	if (!log)
		_exit(3);
	return log;
}

static void child_submit(struct ilog *log, unsigned from, unsigned to)
{
	struct ilog_record r;

	for (unsigned seq = from; seq <= to; seq++) {
		child_record(&r, seq);
		while (ilog_submit(log, &r, NULL) == -ENOBUFS)
			ti_sleep_ms(1);
	}
}

static void wait_killed(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("child exited with status %d instead of dying by SIGKILL",
			 WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* Every seq in 1..<n> present exactly once (read through ilog_query, read-only). */
static void assert_all_present(const char *path, unsigned n)
{
	struct ti_rows rows;
	struct ilog_filter f = {0};
	unsigned char *seen = calloc(n + 1, 1);

	assert_int_equal(ti_query(path, &f, &rows), 0);
	assert_true(rows.n >= n);
	for (size_t i = 0; i < rows.n; i++) {
		uint64_t s = rows.v[i].rec.seq;

		assert_int_equal(rows.v[i].rec.flow_id, 77);
		if (s >= 1 && s <= n) {
			assert_int_equal(seen[s], 0);
			seen[s] = 1;
		}
	}
	for (unsigned s = 1; s <= n; s++)
		if (!seen[s])
			fail_msg("record %u of %u lost", s, n);
	free(seen);
	ti_rows_free(&rows);
}

static void assert_consistent(const char *path)
{
	char ok[32] = "";
	int64_t recs = ti_sql_int(path, "SELECT count(*) FROM records");

	assert_true(ti_sql_text(path, "PRAGMA integrity_check", ok, sizeof(ok)));
	assert_string_equal(ok, "ok");
	/* The inventory was updated in the records' transactions: never ahead, never behind. */
	assert_int_equal(ti_sql_int(path, "SELECT sum(requests) FROM keys"), recs);
	assert_int_equal(ti_sql_int(path, "SELECT sum(requests) FROM key_usage"), recs);
	assert_int_equal(ti_sql_int(path, "SELECT sum(spend_micro) FROM keys"), recs * 10);
	assert_int_equal(ti_sql_int(path, "SELECT count(DISTINCT seq) FROM records"), recs);
}

static void survives_sigkill_after_flush(void **state)
{
	struct ti_dir *d = *state;
	char wal[160];
	struct stat sb;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* Long batch_ms: only the flush commits. */
		struct ilog *log = child_open(d->path, 60000);

		child_submit(log, 1, 500);
		if (ilog_flush_wait(log, 20000) != 0)
			_exit(4);
		raise(SIGKILL);
		_exit(5);
	}
	wait_killed(pid);
	/* The process died with its WAL unmerged: the records are only there. */
	snprintf(wal, sizeof(wal), "%s-wal", d->path);
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);
	assert_all_present(d->path, 500);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), 500);
	assert_consistent(d->path);
}

static void survives_sigkill_after_batch_timer(void **state)
{
	struct ti_dir *d = *state;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* No flush: the writer's timer (batch_ms = 20) commits. The wait is the rule's
		 * bound plus a margin for a loaded 2-CPU machine under sanitizers. */
		struct ilog *log = child_open(d->path, 20);

		child_submit(log, 1, 200);
		ti_sleep_ms(20 + 1000);
		raise(SIGKILL);
		_exit(5);
	}
	wait_killed(pid);
	assert_all_present(d->path, 200);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), 200);
	assert_consistent(d->path);
}

static void sigkill_mid_stream_keeps_committed_prefix(void **state)
{
	struct ti_dir *d = *state;
	int ready[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ilog *log = child_open(d->path, 5);

		close(ready[0]);
		child_submit(log, 1, 300);
		if (ilog_flush_wait(log, 20000) != 0)
			_exit(4);
		if (write(ready[1], "r", 1) != 1)
			_exit(6);
		/* Keep writing until killed: the kill lands at an arbitrary point of a batch. */
		for (unsigned seq = 301;; seq++)
			child_submit(log, seq, seq);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	ti_sleep_ms(150);
	assert_int_equal(kill(pid, SIGKILL), 0);
	wait_killed(pid);
	assert_all_present(d->path, 300);
	assert_true(ti_sql_int(d->path, "SELECT count(*) FROM records") >= 300);
	assert_consistent(d->path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(survives_sigkill_after_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(survives_sigkill_after_batch_timer, setup, teardown),
	    cmocka_unit_test_setup_teardown(sigkill_mid_stream_keeps_committed_prefix, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
