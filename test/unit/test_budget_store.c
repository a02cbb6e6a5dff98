/* test_budget_store: budgets that survive restarts: close/reopen round trip, the rows in the
 * SQLite file, only the current windows loaded, a forked child killed with SIGKILL after its
 * flush point (what was flushed survives, reservations in flight are gone), the periodic flush,
 * and reload keeping the spend of budgets that remain (matched by name). */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "budget.h"

#define USD 1000000LL
#define DAY 86400

#define DEF(name, scope, match, window, cap) \
	"{\"name\": \"" name "\", \"scope\": \"" scope "\", \"match\": \"" match \
	"\", \"window\": \"" window "\", \"cap_usd\": " cap "}"

static const char conf_a[] = "{\"time_zone\": \"Europe/Paris\", \"budgets\": ["
	DEF("teams", "team", "*", "daily", "10") ","
	DEF("kb", "project", "kb", "monthly", "10") "]}";

struct fixture {
	char dir[64];
	char db[96];
	int64_t now;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/modelux-budget.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/budgets.db", f->dir);
	f->now = time(NULL); /* real time: the child's flush thread stamps rows with it */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct budget_conf *conf_of(const char *text)
{
	struct budget_conf *c;
	char err[512];

	if (!budget_conf_parse(text, strlen(text), "t.json", NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

static struct budget *open_db(struct fixture *f, const char *text, unsigned flush_ms,
			      int64_t now)
{
	struct budget_opts o = { .db_path = f->db, .flush_interval_ms = flush_ms };
	struct budget *b;
	char err[512];

	if (budget_open(&b, conf_of(text), &o, now, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return b;
}

static int64_t spent_of(struct budget *b, const struct budget_subject *s, int64_t now)
{
	struct budget_status st;

	budget_status(b, s, now, &st);
	return st.spent_micro;
}

static int64_t reserved_of(struct budget *b, const struct budget_subject *s, int64_t now)
{
	struct budget_status st;

	budget_status(b, s, now, &st);
	return st.reserved_micro;
}

static void spend(struct budget *b, const struct budget_subject *s, int64_t micro, int64_t now)
{
	struct budget_resv r;

	assert_int_equal(budget_reserve(b, s, micro, now, &r), 0);
	assert_int_equal(budget_settle(&r, micro, now), 0);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct budget_subject t1 = { .team = "t1" }, t2 = { .team = "t2" }, kb = { .project = "kb" };
	struct budget_resv open_r;
	struct budget *b = open_db(f, conf_a, 1000, f->now);

	spend(b, &t1, 3 * USD, f->now);
	spend(b, &t1, 1500000, f->now);
	spend(b, &t2, 2 * USD, f->now);
	spend(b, &kb, 7 * USD, f->now);
	assert_int_equal(budget_reserve(b, &t2, 5 * USD, f->now, &open_r), 0); /* in flight */
	budget_close(b); /* flushes what was settled; the open reservation is dropped */

	b = open_db(f, conf_a, 1000, f->now);
	assert_int_equal(spent_of(b, &t1, f->now), 4500000);
	assert_int_equal(spent_of(b, &t2, f->now), 2 * USD);
	assert_int_equal(reserved_of(b, &t2, f->now), 0);
	assert_int_equal(spent_of(b, &kb, f->now), 7 * USD);
	/* the listing has the values loaded from the file */
	struct budget_row *rows;
	size_t n;

	assert_int_equal(budget_list(b, f->now, &rows, &n), 0);
	assert_int_equal(n, 3);
	free(rows);
	/* more spend adds to the same rows across a second restart */
	spend(b, &t1, 1 * USD, f->now);
	budget_close(b);
	b = open_db(f, conf_a, 1000, f->now);
	assert_int_equal(spent_of(b, &t1, f->now), 5500000);
	/* a window that has ended is not loaded: tomorrow t1 starts from zero */
	budget_close(b);
	b = open_db(f, conf_a, 1000, f->now + DAY);
	assert_int_equal(spent_of(b, &t1, f->now + DAY), 0);
	assert_int_equal(spent_of(b, &kb, f->now + DAY) == 7 * USD ||
			 spent_of(b, &kb, f->now + DAY) == 0, 1); /* same month, unless it ended */
	budget_close(b);
}

static void test_rows_in_file(void **state)
{
	struct fixture *f = *state;
	struct budget_subject t1 = { .team = "t1" };
	struct budget *b = open_db(f, conf_a, 1000, f->now);
	struct budget_row *rows;
	size_t n;
	char err[256];

	spend(b, &t1, 2 * USD, f->now);
	assert_int_equal(budget_flush(b, err, sizeof(err)), 0);
	assert_int_equal(budget_list(b, f->now, &rows, &n), 0);

	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name, scope, period, value, window_start,"
					    " window_end, spent_micro FROM budget_spend", -1, &st,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "teams");
	assert_string_equal((const char *)sqlite3_column_text(st, 1), "team");
	assert_string_equal((const char *)sqlite3_column_text(st, 2), "daily");
	assert_string_equal((const char *)sqlite3_column_text(st, 3), "t1");
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].name, "teams") == 0) {
			assert_int_equal(sqlite3_column_int64(st, 4), rows[i].window_start);
			assert_int_equal(sqlite3_column_int64(st, 5), rows[i].window_end);
		}
	assert_int_equal(sqlite3_column_int64(st, 6), 2 * USD);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	/* WAL mode */
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* a row for a window that is not current is history, never loaded */
	assert_int_equal(sqlite3_exec(db, "INSERT INTO budget_spend VALUES ('teams', 'team', "
				      "'daily', 't9', 1000, 2000, 5000000, 0)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	free(rows);
	budget_close(b);
	b = open_db(f, conf_a, 1000, f->now);
	struct budget_subject t9 = { .team = "t9" };

	assert_int_equal(spent_of(b, &t9, f->now), 0);
	budget_close(b);
}

/* Tell the parent we passed the point under test, then wait to be killed. */
static void child_ready_and_wait(int fd)
{
	if (write(fd, "x", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

/* The child never returns into cmocka: any failure is an exit status the parent sees as a
 * short read on the pipe. */
static void child_spend(struct budget *b, const struct budget_subject *s, int64_t micro,
			int64_t now)
{
	struct budget_resv r;

	if (budget_reserve(b, s, micro, now, &r) != 0 || budget_settle(&r, micro, now) != 0)
		_exit(2);
}

static pid_t fork_child(struct fixture *f, int mode, int *rfd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct budget_subject t1 = { .team = "t1" }, kb = { .project = "kb" };
		struct budget_opts o = { .db_path = f->db, .flush_interval_ms = 1000 };
		struct budget_conf *c;
		struct budget_resv r;
		struct budget *b;
		char err[512];

		close(p[0]);
		if (!budget_conf_parse(conf_a, strlen(conf_a), "t.json", NULL, &c, err, sizeof(err)) ||
		    budget_open(&b, c, &o, f->now, err, sizeof(err)) != 0)
			_exit(2);
		if (mode == 0) {
			/* explicit flush point, then spend that only the next round would write */
			child_spend(b, &t1, 3 * USD, f->now);
			if (budget_flush(b, err, sizeof(err)) != 0)
				_exit(2);
			child_spend(b, &kb, 4 * USD, f->now);
		} else {
			/* no explicit flush: the thread writes within a second */
			child_spend(b, &t1, 2 * USD, f->now);
			struct timespec ts = { 1, 600000000 };

			nanosleep(&ts, NULL);
		}
		if (budget_reserve(b, &t1, 5 * USD, f->now, &r) != 0) /* in flight at the kill */
			_exit(2);
		child_ready_and_wait(p[1]);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void kill_child(pid_t pid, int rfd)
{
	char c;
	int status;
	ssize_t got = read(rfd, &c, 1);

	close(rfd);
	if (got != 1) { /* the child failed before its point: reap it and say so */
		waitpid(pid, &status, 0);
		fail_msg("child exited early (status %d)", status);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_sigkill_after_flush_point(void **state)
{
	struct fixture *f = *state;
	struct budget_subject t1 = { .team = "t1" }, kb = { .project = "kb" };
	int rfd;
	pid_t pid = fork_child(f, 0, &rfd);

	kill_child(pid, rfd);
	struct budget *b = open_db(f, conf_a, 1000, f->now);

	/* flushed before the kill: kept */
	assert_int_equal(spent_of(b, &t1, f->now), 3 * USD);
	/* settled after the flush point: lost unless the 1 s round ran in between */
	int64_t kb_spent = spent_of(b, &kb, f->now);

	assert_true(kb_spent == 0 || kb_spent == 4 * USD);
	/* the reservation in flight died with the process */
	assert_int_equal(reserved_of(b, &t1, f->now), 0);
	struct budget_resv r;

	assert_int_equal(budget_reserve(b, &t1, 7 * USD, f->now, &r), 0); /* 3 + 7 = cap */
	assert_int_equal(budget_release(&r), 0);
	budget_close(b);
}

static void test_sigkill_periodic_flush(void **state)
{
	struct fixture *f = *state;
	struct budget_subject t1 = { .team = "t1" };
	int rfd;
	pid_t pid = fork_child(f, 1, &rfd);

	kill_child(pid, rfd);
	struct budget *b = open_db(f, conf_a, 1000, f->now);

	assert_int_equal(spent_of(b, &t1, f->now), 2 * USD);
	assert_int_equal(reserved_of(b, &t1, f->now), 0);
	budget_close(b);
}

static const char conf_b[] = "{\"time_zone\": \"Europe/Paris\", \"budgets\": ["
	DEF("teams", "team", "*", "daily", "20") ","
	DEF("new", "user", "*", "daily", "1") "]}";

static void test_reload_keeps_spend(void **state)
{
	struct fixture *f = *state;
	struct budget_subject t1 = { .team = "t1" }, kb = { .project = "kb" };
	struct budget_status st;
	struct budget_resv open_r;
	struct budget *b = open_db(f, conf_a, 1000, f->now);
	char err[512];

	spend(b, &t1, 3 * USD, f->now);
	spend(b, &kb, 2 * USD, f->now);
	assert_int_equal(budget_reserve(b, &t1, 4 * USD, f->now, &open_r), 0);

	/* B: "teams" stays with a bigger cap, "kb" goes, "new" arrives */
	assert_int_equal(budget_reload(b, conf_of(conf_b), f->now, err, sizeof(err)), 0);
	budget_status(b, &t1, f->now, &st);
	assert_int_equal(st.spent_micro, 3 * USD);
	assert_int_equal(st.reserved_micro, 4 * USD);
	assert_int_equal(st.cap_micro, 20 * USD);
	budget_status(b, &kb, f->now, &st);
	assert_int_equal(st.applying, 0);
	/* the reservation made under A settles under B */
	assert_int_equal(budget_settle(&open_r, 4 * USD, f->now), 0);
	assert_int_equal(spent_of(b, &t1, f->now), 7 * USD);
	assert_int_equal(reserved_of(b, &t1, f->now), 0);

	/* back to A: "kb" comes back with its spend (from the file) */
	assert_int_equal(budget_reload(b, conf_of(conf_a), f->now, err, sizeof(err)), 0);
	assert_int_equal(spent_of(b, &kb, f->now), 2 * USD);
	assert_int_equal(spent_of(b, &t1, f->now), 7 * USD);
	budget_status(b, &t1, f->now, &st);
	assert_int_equal(st.cap_micro, 10 * USD);

	/* same name, other scope: a different budget, it starts from zero */
	static const char conf_c[] = "{\"time_zone\": \"Europe/Paris\", \"budgets\": ["
		DEF("teams", "user", "*", "daily", "10") "]}";
	struct budget_subject u1 = { .user = "t1" };

	assert_int_equal(budget_reload(b, conf_of(conf_c), f->now, err, sizeof(err)), 0);
	assert_int_equal(spent_of(b, &u1, f->now), 0);
	budget_close(b);

	/* and after a restart the file agrees */
	b = open_db(f, conf_a, 1000, f->now);
	assert_int_equal(spent_of(b, &t1, f->now), 7 * USD);
	assert_int_equal(spent_of(b, &kb, f->now), 2 * USD);
	budget_close(b);
}

/* A new time zone moves the current window's edges; its spend moves with it. */
static void test_reload_time_zone(void **state)
{
	struct fixture *f = *state;
	struct budget_subject t1 = { .team = "t1" };
	struct budget *b = open_db(f, conf_a, 1000, f->now);
	char err[512];
	static const char conf_utc[] = "{\"budgets\": [" DEF("teams", "team", "*", "daily", "10")
				       "]}";

	spend(b, &t1, 3 * USD, f->now);
	assert_int_equal(budget_reload(b, conf_of(conf_utc), f->now, err, sizeof(err)), 0);
	struct budget_status st;

	budget_status(b, &t1, f->now, &st);
	assert_int_equal(st.spent_micro, 3 * USD);
	assert_int_equal(st.window_end % DAY, 0); /* UTC midnight now */
	budget_close(b);
}

static void test_open_errors(void **state)
{
	struct budget_opts o = { .db_path = "/nonexistent/dir/budgets.db" };
	struct budget *b;
	char err[512];

	assert_int_equal(budget_open(&b, conf_of(conf_a), &o, time(NULL), err, sizeof(err)), -EIO);
	assert_null(b);
	assert_non_null(strstr(err, "budget database"));
	assert_non_null(strstr(err, "/nonexistent/dir/budgets.db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows_in_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_after_flush_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_periodic_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_spend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_time_zone, setup, teardown),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
