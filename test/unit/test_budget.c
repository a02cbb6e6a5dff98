/* test_budget: accounting through the public API, counters in memory: which budgets apply to a
 * subject, reserve/settle/release arithmetic, overrun, status for the policy, windows rolling
 * over under open reservations, the tracking limit, listing and its formatters, and the
 * atomicity proof: 8 threads racing for a cap that fits exactly k reservations, and
 * all-or-nothing across budgets under contention. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"

#define USD 1000000LL
#define T0 1774785600LL /* 2026-03-29 12:00:00 UTC */
#define DAY 86400

static struct budget *open_text(const char *text, const struct budget_opts *opts, int64_t now)
{
	struct budget_conf *c;
	struct budget *b;
	char err[512];

	if (!budget_conf_parse(text, strlen(text), "t.json", NULL, &c, err, sizeof(err)))
		fail_msg("%s", err);
	if (budget_open(&b, c, opts, now, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return b;
}

#define DEF(name, scope, match, window, cap) \
	"{\"name\": \"" name "\", \"scope\": \"" scope "\", \"match\": \"" match \
	"\", \"window\": \"" window "\", \"cap_usd\": " cap "}"

static const char matching_conf[] =
	"{\"budgets\": ["
	DEF("p-kb", "project", "kb", "daily", "10") ","
	DEF("p-kb-month", "project", "kb", "monthly", "100") ","
	DEF("teams", "team", "*", "daily", "10") ","
	DEF("keys", "key", "*", "weekly", "10") ","
	DEF("alice", "user", "alice", "daily", "10") ","
	DEF("host", "host", "h1", "daily", "10")
	"]}";

static void test_matching(void **state)
{
	struct budget *b = open_text(matching_conf, NULL, T0);
	struct budget_subject s = { .project = "kb", .team = "support", .key = "fpA",
				    .user = "bob", .host = "h1" };
	struct budget_status st;
	struct budget_resv r;

	budget_status(b, &s, T0, &st);
	assert_int_equal(st.applying, 5); /* both kb budgets, team, key, host; not alice */
	assert_int_equal(budget_reserve(b, &s, 2 * USD, T0, &r), 0);
	assert_int_equal(r.n, 5);

	/* each applying budget holds the reservation, the others do not */
	struct budget_subject only;

	only = (struct budget_subject){ .project = "kb" };
	budget_status(b, &only, T0, &st);
	assert_int_equal(st.applying, 2);
	assert_int_equal(st.reserved_micro, 2 * USD);
	only = (struct budget_subject){ .team = "support" };
	budget_status(b, &only, T0, &st);
	assert_int_equal(st.reserved_micro, 2 * USD);
	only = (struct budget_subject){ .team = "sales" }; /* another value, its own counter */
	budget_status(b, &only, T0, &st);
	assert_int_equal(st.applying, 1);
	assert_int_equal(st.reserved_micro, 0);
	only = (struct budget_subject){ .user = "alice" };
	budget_status(b, &only, T0, &st);
	assert_int_equal(st.applying, 1);
	assert_int_equal(st.reserved_micro, 0);
	only = (struct budget_subject){ .project = "KB" }; /* exact means exact */
	budget_status(b, &only, T0, &st);
	assert_int_equal(st.applying, 0);

	/* empty and NULL fields leave their scope out; no subject at all touches nothing */
	struct budget_subject empty = { .project = "", .team = "", .key = "", .user = "", .host = "" };
	struct budget_resv r2;

	assert_int_equal(budget_reserve(b, &empty, 5 * USD, T0, &r2), 0);
	assert_int_equal(r2.n, 0);
	assert_int_equal(budget_settle(&r2, 5 * USD, T0), 0);
	assert_int_equal(budget_reserve(b, NULL, 5 * USD, T0, &r2), 0);
	assert_int_equal(r2.n, 0);
	assert_int_equal(budget_release(&r2), 0);
	assert_int_equal(budget_release(&r), 0);
	budget_close(b);
}

static const char one_conf[] = "{\"budgets\": [" DEF("team-cap", "team", "*", "daily", "10") "]}";

static void test_arithmetic(void **state)
{
	struct budget *b = open_text(one_conf, NULL, T0);
	struct budget_subject s = { .team = "t" };
	struct budget_status st;
	struct budget_resv r1, r2, r3;

	assert_int_equal(budget_reserve(b, &s, 3 * USD, T0, &r1), 0);
	budget_status(b, &s, T0, &st);
	assert_int_equal(st.spent_micro, 0);
	assert_int_equal(st.reserved_micro, 3 * USD);
	assert_int_equal(budget_settle(&r1, 2 * USD, T0), 0);
	budget_status(b, &s, T0, &st);
	assert_int_equal(st.spent_micro, 2 * USD);
	assert_int_equal(st.reserved_micro, 0);
	assert_int_equal(budget_settle(&r1, 2 * USD, T0), -EALREADY);
	assert_int_equal(budget_release(&r1), -EALREADY);

	/* exactly up to the cap is allowed, one micro-dollar more is not */
	assert_int_equal(budget_reserve(b, &s, 8 * USD, T0, &r2), 0);
	assert_int_equal(budget_reserve(b, &s, 1, T0, &r3), -EDQUOT);
	assert_false(r3.active);
	assert_string_equal(r3.over.name, "team-cap");
	assert_int_equal(r3.over.scope, BUDGET_SCOPE_TEAM);
	assert_string_equal(r3.over.value, "t");
	assert_int_equal(r3.over.window, BUDGET_WINDOW_DAILY);
	assert_int_equal(r3.over.window_start, T0 - 12 * 3600);
	assert_int_equal(r3.over.window_end, T0 + 12 * 3600);
	assert_int_equal(r3.over.cap_micro, 10 * USD);
	assert_int_equal(r3.over.spent_micro, 2 * USD);
	assert_int_equal(r3.over.reserved_micro, 8 * USD);
	assert_int_equal(r3.over.request_micro, 1);
	assert_int_equal(budget_settle(&r3, 1, T0), -EALREADY);

	/* a release gives the room back */
	assert_int_equal(budget_release(&r2), 0);
	budget_status(b, &s, T0, &st);
	assert_int_equal(st.reserved_micro, 0);
	assert_int_equal(budget_reserve(b, &s, 8 * USD, T0, &r3), 0);
	assert_int_equal(budget_settle(&r3, 0, T0), 0); /* a free answer */
	budget_status(b, &s, T0, &st);
	assert_int_equal(st.spent_micro, 2 * USD);

	/* bad arguments */
	char long_value[BUDGET_VALUE_MAX + 1];

	memset(long_value, 'x', BUDGET_VALUE_MAX);
	long_value[BUDGET_VALUE_MAX] = '\0';
	struct budget_subject too_long = { .team = long_value };

	assert_int_equal(budget_reserve(b, &s, -1, T0, &r1), -EINVAL);
	assert_int_equal(budget_reserve(b, &s, BUDGET_MAX_MICRO + 1, T0, &r1), -EINVAL);
	assert_int_equal(budget_reserve(b, &too_long, 1, T0, &r1), -EINVAL);
	assert_int_equal(budget_reserve(b, &s, 1, T0, &r1), 0);
	assert_int_equal(budget_settle(&r1, -1, T0), -EINVAL);
	assert_true(r1.active);
	assert_int_equal(budget_release(&r1), 0);

	struct budget_stats stats;

	budget_get_stats(b, &stats);
	assert_int_equal(stats.reserves, 4);
	assert_int_equal(stats.denials, 1);
	assert_int_equal(stats.settles, 2);
	assert_int_equal(stats.releases, 2);
	assert_int_equal(stats.overruns, 0);
	budget_close(b);
}

/* The actual cost may exceed the reservation: it is recorded, and spend then exceeds the cap by
 * at most that overrun; nothing more is admitted until the window ends. */
static void test_overrun(void **state)
{
	struct budget *b = open_text(one_conf, NULL, T0);
	struct budget_subject s = { .team = "t" };
	struct budget_status st;
	struct budget_stats stats;
	struct budget_resv r;

	assert_int_equal(budget_reserve(b, &s, 4 * USD, T0, &r), 0);
	assert_int_equal(budget_settle(&r, 7 * USD, T0), 0);
	assert_int_equal(budget_reserve(b, &s, 4 * USD, T0, &r), -EDQUOT);
	assert_int_equal(budget_reserve(b, &s, 3 * USD, T0, &r), 0);
	assert_int_equal(budget_settle(&r, 6 * USD, T0), 0);
	budget_status(b, &s, T0, &st);
	assert_int_equal(st.spent_micro, 13 * USD); /* 10 + the 3 of the last overrun */
	assert_true(fabs(st.used_pct - 1.3) < 1e-9);
	assert_true(st.remaining_usd == 0.0);
	assert_true(st.exhausted);
	assert_int_equal(budget_reserve(b, &s, 0, T0, &r), -EDQUOT);
	budget_get_stats(b, &stats);
	assert_int_equal(stats.overruns, 2);
	assert_int_equal(stats.overrun_micro, 6 * USD);
	/* the next window starts from zero */
	assert_int_equal(budget_reserve(b, &s, 10 * USD, T0 + DAY, &r), 0);
	assert_int_equal(budget_release(&r), 0);
	budget_close(b);
}

static void test_status(void **state)
{
	static const char conf[] =
		"{\"budgets\": ["
		"{\"name\": \"team\", \"scope\": \"team\", \"match\": \"*\", \"window\": \"daily\","
		" \"cap_usd\": 100, \"soft_pct\": 0.5},"
		DEF("user", "user", "*", "daily", "10") ","
		DEF("frozen", "project", "frozen", "daily", "0") "]}";
	struct budget *b = open_text(conf, NULL, T0);
	struct budget_subject s = { .team = "t", .user = "u" };
	struct budget_status st;
	struct budget_resv r;

	budget_status(b, NULL, T0, &st);
	assert_int_equal(st.applying, 0);
	assert_true(st.used_pct == 0.0);
	assert_true(isinf(st.remaining_usd));
	assert_string_equal(st.name, "");

	budget_status(b, &s, T0, &st); /* values never seen: empty counters */
	assert_int_equal(st.applying, 2);
	assert_true(st.used_pct == 0.0);
	assert_true(st.remaining_usd == 10.0);
	assert_false(st.soft);

	assert_int_equal(budget_reserve(b, &s, 4 * USD, T0, &r), 0);
	assert_int_equal(budget_settle(&r, 4 * USD, T0), 0);
	/* user: 4/10 = 0.4, team: 4/100 = 0.04 -> the user budget leads */
	budget_status(b, &s, T0, &st);
	assert_true(fabs(st.used_pct - 0.4) < 1e-12);
	assert_true(fabs(st.remaining_usd - 6.0) < 1e-12);
	assert_string_equal(st.name, "user");
	assert_int_equal(st.scope, BUDGET_SCOPE_USER);
	assert_string_equal(st.value, "u");
	assert_int_equal(st.window_end, T0 + 12 * 3600);
	assert_false(st.soft);
	assert_false(st.exhausted);

	/* another user of the same team pushes the team past its 0.5 soft threshold */
	struct budget_subject s2 = { .team = "t", .user = "v" };

	for (int i = 0; i < 6; i++) {
		struct budget_subject si = { .team = "t", .user = (const char *[]){ "a", "b", "c", "d",
										   "e", "f" }[i] };

		assert_int_equal(budget_reserve(b, &si, 8 * USD, T0, &r), 0);
		assert_int_equal(budget_settle(&r, 8 * USD, T0), 0);
	}
	budget_status(b, &s2, T0, &st); /* team 52/100, user v 0/10 */
	assert_true(st.soft);
	assert_string_equal(st.name, "team");
	assert_true(fabs(st.remaining_usd - 10.0) < 1e-12); /* the minimum: user v's 10 */

	/* a zero cap counts as used up */
	struct budget_subject f = { .project = "frozen" };

	budget_status(b, &f, T0, &st);
	assert_true(st.used_pct == 1.0);
	assert_true(st.exhausted);
	assert_int_equal(budget_reserve(b, &f, 1, T0, &r), -EDQUOT);
	budget_close(b);
}

/* The second budget is full: the first must not keep a reservation. */
static void test_all_or_nothing(void **state)
{
	static const char conf[] = "{\"budgets\": ["
		DEF("first", "project", "p", "daily", "100") ","
		DEF("second", "team", "t", "daily", "5") "]}";
	struct budget *b = open_text(conf, NULL, T0);
	struct budget_subject both = { .project = "p", .team = "t" }, team = { .team = "t" };
	struct budget_subject project = { .project = "p" };
	struct budget_status st;
	struct budget_resv r, fill;

	assert_int_equal(budget_reserve(b, &team, 5 * USD, T0, &fill), 0);
	assert_int_equal(budget_reserve(b, &both, 1 * USD, T0, &r), -EDQUOT);
	assert_string_equal(r.over.name, "second");
	assert_int_equal(r.n, 0);
	budget_status(b, &project, T0, &st);
	assert_int_equal(st.reserved_micro, 0);
	assert_int_equal(st.spent_micro, 0);
	/* room again on the second: both take it */
	assert_int_equal(budget_settle(&fill, 4 * USD, T0), 0);
	assert_int_equal(budget_reserve(b, &both, 1 * USD, T0, &r), 0);
	budget_status(b, &project, T0, &st);
	assert_int_equal(st.reserved_micro, 1 * USD);
	assert_int_equal(budget_settle(&r, 1 * USD, T0), 0);
	budget_close(b);
}

/* ---- concurrency ---- */

#define THREADS 8
#define TRIES 200
#define K 50
#define AMOUNT 3000 /* micro-dollars; the cap is exactly K of them */

struct race {
	struct budget *b;
	pthread_barrier_t start;
	atomic_int ok;
	atomic_bool done;
	atomic_bool violated;
	int64_t cap;
	struct budget_resv held[THREADS][TRIES];
	int nheld[THREADS];
	int id_next;
	pthread_mutex_t id_lock;
};

static void *race_reserver(void *arg)
{
	struct race *rc = arg;
	struct budget_subject s = { .team = "t" };
	int id;

	pthread_mutex_lock(&rc->id_lock);
	id = rc->id_next++;
	pthread_mutex_unlock(&rc->id_lock);
	pthread_barrier_wait(&rc->start);
	for (int i = 0; i < TRIES; i++) {
		struct budget_resv *r = &rc->held[id][rc->nheld[id]];
		int e = budget_reserve(rc->b, &s, AMOUNT, T0, r);

		if (e == 0) {
			rc->nheld[id]++;
			atomic_fetch_add(&rc->ok, 1);
		} else if (e != -EDQUOT) {
			atomic_store(&rc->violated, true);
		}
	}
	return NULL;
}

/* Watches spent + reserved while the others race. */
static void *race_monitor(void *arg)
{
	struct race *rc = arg;
	struct budget_subject s = { .team = "t" };
	struct budget_status st;

	pthread_barrier_wait(&rc->start);
	while (!atomic_load(&rc->done)) {
		budget_status(rc->b, &s, T0, &st);
		if (st.spent_micro + st.reserved_micro > rc->cap)
			atomic_store(&rc->violated, true);
	}
	return NULL;
}

static void test_concurrent_exactly_k(void **state)
{
	static const char conf[] = "{\"budgets\": [" DEF("t", "team", "t", "daily", "0.15") "]}";
	struct race *rc = calloc(1, sizeof(*rc));
	pthread_t th[THREADS], mon;
	struct budget_subject s = { .team = "t" };
	struct budget_status st;

	assert_non_null(rc);
	rc->b = open_text(conf, NULL, T0);
	rc->cap = K * AMOUNT;
	pthread_mutex_init(&rc->id_lock, NULL);
	for (int round = 0; round < 5; round++) {
		rc->id_next = 0;
		atomic_store(&rc->ok, 0);
		atomic_store(&rc->done, false);
		memset(rc->nheld, 0, sizeof(rc->nheld));
		pthread_barrier_init(&rc->start, NULL, THREADS + 1);
		pthread_create(&mon, NULL, race_monitor, rc);
		for (int i = 0; i < THREADS; i++)
			pthread_create(&th[i], NULL, race_reserver, rc);
		for (int i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
		atomic_store(&rc->done, true);
		pthread_join(mon, NULL);
		pthread_barrier_destroy(&rc->start);

		assert_false(atomic_load(&rc->violated));
		assert_int_equal(atomic_load(&rc->ok), K);
		budget_status(rc->b, &s, T0, &st);
		assert_int_equal(st.reserved_micro, K * AMOUNT);
		/* give everything back: the next round starts from an empty cap */
		for (int i = 0; i < THREADS; i++)
			for (int j = 0; j < rc->nheld[i]; j++)
				assert_int_equal(budget_release(&rc->held[i][j]), 0);
		budget_status(rc->b, &s, T0, &st);
		assert_int_equal(st.reserved_micro, 0);
	}
	/* and with settlements: the spend ends exactly at the cap */
	rc->id_next = 0;
	atomic_store(&rc->ok, 0);
	memset(rc->nheld, 0, sizeof(rc->nheld));
	pthread_barrier_init(&rc->start, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, race_reserver, rc);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&rc->start);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < rc->nheld[i]; j++)
			assert_int_equal(budget_settle(&rc->held[i][j], AMOUNT, T0), 0);
	budget_status(rc->b, &s, T0, &st);
	assert_int_equal(atomic_load(&rc->ok), K);
	assert_int_equal(st.spent_micro, K * AMOUNT);
	assert_int_equal(st.reserved_micro, 0);
	budget_close(rc->b);
	pthread_mutex_destroy(&rc->id_lock);
	free(rc);
}

/* Three kinds of requests race: project+team, team only, project only. With all-or-nothing,
 * every counter holds exactly AMOUNT times the successes that touched it: no partial leftovers. */
struct mixed {
	struct budget *b;
	pthread_barrier_t start;
	atomic_int ok[3];
};

struct mixed_arg {
	struct mixed *m;
	int kind;
};

static void *mixed_worker(void *arg)
{
	struct mixed_arg *a = arg;
	struct budget_subject s[3] = { { .project = "p", .team = "t" }, { .team = "t" },
				       { .project = "p" } };
	struct budget_resv r;

	pthread_barrier_wait(&a->m->start);
	for (int i = 0; i < 2000; i++) {
		if (budget_reserve(a->m->b, &s[a->kind], AMOUNT, T0, &r) != 0)
			continue;
		atomic_fetch_add(&a->m->ok[a->kind], 1);
		/* half are settled, half are released and counted back out */
		if (i % 2 == 0) {
			budget_settle(&r, AMOUNT, T0);
		} else {
			budget_release(&r);
			atomic_fetch_sub(&a->m->ok[a->kind], 1);
		}
	}
	return NULL;
}

static void test_concurrent_all_or_nothing(void **state)
{
	static const char conf[] = "{\"budgets\": ["
		DEF("p", "project", "p", "daily", "0.3") ","
		DEF("t", "team", "t", "daily", "0.21") "]}";
	struct mixed m = { 0 };
	struct mixed_arg args[6];
	pthread_t th[6];
	struct budget_status sp, stt;
	struct budget_subject p = { .project = "p" }, t = { .team = "t" };

	m.b = open_text(conf, NULL, T0);
	pthread_barrier_init(&m.start, NULL, 6);
	for (int i = 0; i < 6; i++) {
		args[i] = (struct mixed_arg){ &m, i % 3 };
		pthread_create(&th[i], NULL, mixed_worker, &args[i]);
	}
	for (int i = 0; i < 6; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&m.start);
	budget_status(m.b, &p, T0, &sp);
	budget_status(m.b, &t, T0, &stt);
	int both = atomic_load(&m.ok[0]), team = atomic_load(&m.ok[1]), proj = atomic_load(&m.ok[2]);

	assert_int_equal(sp.reserved_micro, 0);
	assert_int_equal(stt.reserved_micro, 0);
	assert_int_equal(sp.spent_micro, (int64_t)(both + proj) * AMOUNT);
	assert_int_equal(stt.spent_micro, (int64_t)(both + team) * AMOUNT);
	assert_true(sp.spent_micro <= 300000);
	assert_true(stt.spent_micro <= 210000);
	/* the contention was real: both caps filled up */
	assert_int_equal(stt.spent_micro, 210000);
	budget_close(m.b);
}

/* ---- windows ---- */

/* A reservation made before midnight settles into the day it was made in. */
static void test_window_rollover(void **state)
{
	struct budget *b = open_text(one_conf, NULL, T0);
	struct budget_subject s = { .team = "t" };
	int64_t midnight = T0 + 12 * 3600;
	struct budget_resv before, after;
	struct budget_status st;
	struct budget_stats stats;

	assert_int_equal(budget_reserve(b, &s, 6 * USD, midnight - 1, &before), 0);
	/* a new day: the old reservation does not take room from it */
	assert_int_equal(budget_reserve(b, &s, 6 * USD, midnight + 1, &after), 0);
	assert_int_equal(budget_settle(&before, 6 * USD, midnight + 2), 0);
	budget_status(b, &s, midnight + 3, &st);
	assert_int_equal(st.spent_micro, 0); /* went to yesterday */
	assert_int_equal(st.reserved_micro, 6 * USD);
	assert_int_equal(budget_settle(&after, 5 * USD, midnight + 4), 0);
	budget_status(b, &s, midnight + 5, &st);
	assert_int_equal(st.spent_micro, 5 * USD);
	budget_get_stats(b, &stats);
	assert_int_equal(stats.late_settles, 1);

	/* status and listing show the new window's zeros even before anything rolls */
	budget_status(b, &s, midnight + DAY, &st);
	assert_int_equal(st.spent_micro, 0);
	assert_int_equal(st.window_end, midnight + 2 * DAY);
	budget_close(b);
}

static void test_tracking_limit_and_sweep(void **state)
{
	static const char conf[] = "{\"budgets\": ["
		DEF("users", "user", "*", "daily", "10") ","
		DEF("kb", "project", "kb", "daily", "10") "]}";
	struct budget_opts opts = { .max_values = 3 }; /* kb's counter + two users */
	struct budget *b = open_text(conf, &opts, T0);
	struct budget_subject u[3] = { { .user = "a" }, { .user = "b" }, { .user = "c" } };
	struct budget_resv r;
	struct budget_stats stats;
	char err[128];

	assert_int_equal(budget_reserve(b, &u[0], 1, T0, &r), 0);
	assert_int_equal(budget_settle(&r, 1, T0), 0);
	assert_int_equal(budget_reserve(b, &u[1], 1, T0, &r), 0);
	assert_int_equal(budget_settle(&r, 1, T0), 0);
	assert_int_equal(budget_reserve(b, &u[2], 1, T0, &r), -ENOSPC);
	assert_string_equal(r.over.name, "users");
	assert_string_equal(r.over.value, "c");
	budget_get_stats(b, &stats);
	assert_int_equal(stats.tracked_values, 3);
	/* the next day, yesterday's idle counters are dropped at the next flush */
	assert_int_equal(budget_reserve(b, &u[2], 1, T0 + DAY, &r), -ENOSPC);
	assert_int_equal(budget_flush(b, err, sizeof(err)), 0);
	budget_get_stats(b, &stats);
	assert_int_equal(stats.tracked_values, 1);
	assert_int_equal(budget_reserve(b, &u[2], 1, T0 + DAY, &r), 0);
	assert_int_equal(budget_release(&r), 0);
	budget_close(b);
}

/* ---- listing ---- */

static void test_listing(void **state)
{
	static const char conf[] = "{\"time_zone\": \"Europe/Paris\", \"budgets\": ["
		DEF("users", "user", "*", "daily", "10") ","
		DEF("keys", "key", "*", "monthly", "50") ","
		"{\"name\": \"kb\", \"scope\": \"project\", \"match\": \"kb\", \"window\": \"weekly\","
		" \"cap_usd\": 20, \"soft_pct\": 0.5}]}";
	struct budget *b = open_text(conf, NULL, T0);
	struct budget_subject s1 = { .project = "kb", .user = "zoe" }, s2 = { .user = "adam" };
	struct budget_resv r;
	struct budget_row *rows, *back;
	size_t n, nback;
	char err[128];

	assert_int_equal(budget_reserve(b, &s1, 12 * USD, T0, &r), -EDQUOT); /* users: 10 */
	assert_int_equal(budget_reserve(b, &s1, 9 * USD, T0, &r), 0);
	assert_int_equal(budget_settle(&r, 9 * USD, T0), 0);
	assert_int_equal(budget_reserve(b, &s2, 1 * USD, T0, &r), 0);
	assert_int_equal(budget_list(b, T0, &rows, &n), 0);
	assert_int_equal(n, 4); /* kb, keys (no value yet: "*"), users adam, users zoe */
	assert_string_equal(rows[0].name, "kb");
	assert_int_equal(rows[0].spent_micro, 9 * USD);
	assert_int_equal(rows[0].window, BUDGET_WINDOW_WEEKLY);
	assert_int_equal(rows[0].window_start, 1774220400); /* Monday 2026-03-23 00:00+01:00 */
	assert_int_equal(rows[0].window_end, 1774821600);   /* Monday 2026-03-30 00:00+02:00 */
	assert_int_equal(rows[0].start_utcoff, 3600);
	assert_int_equal(rows[0].end_utcoff, 7200);
	assert_true(fabs(rows[0].used_pct - 0.45) < 1e-12);
	assert_string_equal(rows[1].name, "keys");
	assert_string_equal(rows[1].value, "*");
	assert_string_equal(rows[2].value, "adam");
	assert_int_equal(rows[2].reserved_micro, 1 * USD);
	assert_string_equal(rows[3].value, "zoe");
	assert_true(fabs(rows[3].used_pct - 0.9) < 1e-12);

	json_t *doc = budget_rows_to_json(rows, n);

	assert_non_null(doc);
	json_t *first = json_array_get(json_object_get(doc, "budgets"), 0);

	assert_string_equal(json_string_value(json_object_get(first, "window_start_local")),
			    "2026-03-23 00:00+01:00");
	assert_true(json_real_value(json_object_get(first, "spent_usd")) == 9.0);
	assert_true(budget_rows_from_json(doc, &back, &nback, err, sizeof(err)));
	assert_int_equal(nback, n);
	assert_memory_equal(back, rows, n * sizeof(*rows));
	free(back);

	char *table = budget_rows_table(rows, n);

	assert_non_null(table);
	assert_non_null(strstr(table, "NAME"));
	assert_non_null(strstr(table, "USED"));
	/* kb: weekly, from Monday to Monday, 45 % used, over its 0.5 soft threshold? no */
	assert_non_null(strstr(table, "2026-03-23 00:00+01:00  2026-03-30 00:00+02:00"));
	assert_non_null(strstr(table, "45.0%  ok"));
	assert_non_null(strstr(table, "90.0%  soft")); /* zoe, default soft 0.8 */
	assert_int_equal(strlen(table) > 0 && table[strlen(table) - 1] == '\n', 1);
	free(table);

	json_decref(doc);
	doc = json_pack("{s:[{s:s}]}", "budgets", "name", "x");
	assert_false(budget_rows_from_json(doc, &back, &nback, err, sizeof(err)));
	assert_string_equal(err, "budgets[0]: missing or malformed field");
	json_decref(doc);
	free(rows);
	assert_int_equal(budget_release(&r), 0);
	budget_close(b);
}

static void test_over_format(void **state)
{
	struct budget *b = open_text(
		"{\"time_zone\": \"Europe/Paris\", \"budgets\": ["
		DEF("support-monthly", "team", "support", "monthly", "1500") "]}", NULL, T0);
	struct budget_subject s = { .team = "support" };
	struct budget_resv r;
	char msg[512];

	assert_int_equal(budget_reserve(b, &s, 1499500000, T0, &r), 0);
	assert_int_equal(budget_settle(&r, 1499200000, T0), 0);
	assert_int_equal(budget_reserve(b, &s, 400000, T0, &r), 0);
	assert_int_equal(budget_reserve(b, &s, 500000, T0, &r), -EDQUOT);
	budget_over_format(&r.over, msg, sizeof(msg));
	assert_string_equal(msg, "budget \"support-monthly\" (team support, monthly window "
			    "2026-03-01 00:00+01:00 to 2026-04-01 00:00+02:00): cap $1500.00, "
			    "spent $1499.20, reserved $0.40, this request up to $0.50");
	budget_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_arithmetic),
		cmocka_unit_test(test_overrun),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_all_or_nothing),
		cmocka_unit_test(test_concurrent_exactly_k),
		cmocka_unit_test(test_concurrent_all_or_nothing),
		cmocka_unit_test(test_window_rollover),
		cmocka_unit_test(test_tracking_limit_and_sweep),
		cmocka_unit_test(test_listing),
		cmocka_unit_test(test_over_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
