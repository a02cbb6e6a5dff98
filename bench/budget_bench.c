/* budget_bench: what a request pays for budgets: one budget_reserve + budget_settle pair, timed
 * from 2 threads contending for the same counters, with the SQLite flush thread running.
 * Build and run (from the repository root):
 *
 *   mkdir -p build && gcc -O2 -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -Iuserspace \
 *       bench/budget_bench.c userspace/budget*.c -ljansson -lsqlite3 -lpthread -lm \
 *       -o build/budget_bench && build/budget_bench
 *
 * First line, for `make bench`:
 *   budget_reserve_settle_ns_p50=.. budget_reserve_settle_ns_p99=.. threads=2
 * then the mean, p99.9 and max, and the same pair measured from one thread. Every request
 * touches 6 budgets of the 7 configured (two on its project, its team, and per-key, per-user
 * and per-host wildcards);
 * the two threads share project, team and host and use 64 users and 16 keys each, so the
 * wildcard tables are warm and the shared counters are contended. Options: -n PAIRS per thread
 * (default 2000000), -d DB (default a file under /tmp, removed afterwards), -m (memory only).
 * The flush thread runs every 100 ms here (default 1 s) so its batches land inside the run.
 * Target: p99 < 5 us.
 *
 * Measured on the 2-vCPU KVM guest this was written on (gcc 12, SQLite 3.40):
 *   lightest load seen: p50 ~180 ns, p99 ~310-330 ns (1 thread: p50 ~170, p99 ~300-340 ns)
 *   other jobs on the
 *   same 2 CPUs (load 3-4): p50 ~180-250 ns, p99 ~2-2.7 us
 * The tail comes from a thread preempted while holding the lock (the maxima are scheduler
 * time slices, milliseconds), not from the work done under it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budget.h"

static const char conf_text[] =
	"{\"time_zone\": \"Europe/Paris\", \"budgets\": ["
	"{\"name\": \"kb\", \"scope\": \"project\", \"match\": \"kb\", \"window\": \"monthly\","
	" \"cap_usd\": 1000000000},"
	"{\"name\": \"kb-daily\", \"scope\": \"project\", \"match\": \"kb\", \"window\": \"daily\","
	" \"cap_usd\": 1000000000},"
	"{\"name\": \"support\", \"scope\": \"team\", \"match\": \"support\", \"window\": \"weekly\","
	" \"cap_usd\": 1000000000},"
	"{\"name\": \"other-team\", \"scope\": \"team\", \"match\": \"sales\", \"window\": \"weekly\","
	" \"cap_usd\": 1000},"
	"{\"name\": \"per-key\", \"scope\": \"key\", \"match\": \"*\", \"window\": \"daily\","
	" \"cap_usd\": 1000000000},"
	"{\"name\": \"per-user\", \"scope\": \"user\", \"match\": \"*\", \"window\": \"daily\","
	" \"cap_usd\": 1000000000},"
	"{\"name\": \"host\", \"scope\": \"host\", \"match\": \"*\", \"window\": \"daily\","
	" \"cap_usd\": 1000000000}]}";

struct worker {
	struct budget *b;
	int id;
	size_t n;
	uint32_t *ns;
	pthread_barrier_t *start;
	int failures;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char users[64][32], keys[16][32];
	int64_t now = time(NULL);

	for (int i = 0; i < 64; i++)
		snprintf(users[i], sizeof(users[i]), "user-%d-%d", w->id, i);
	for (int i = 0; i < 16; i++)
		snprintf(keys[i], sizeof(keys[i]), "sha256:%08x%d", 0x5eed0000u + (unsigned)i, w->id);
	if (w->start)
		pthread_barrier_wait(w->start);
	for (size_t i = 0; i < w->n; i++) {
		struct budget_subject s = { .project = "kb", .team = "support",
					    .key = keys[i % 16], .user = users[i % 64],
					    .host = "bench-host" };
		struct budget_resv r;
		uint64_t t0 = now_ns();

		if (budget_reserve(w->b, &s, 20000, now, &r) != 0 ||
		    budget_settle(&r, 1200, now) != 0)
			w->failures++;
		uint64_t dt = now_ns() - t0;

		w->ns[i] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

struct summary {
	double mean;
	uint32_t p50, p99, p999, max;
};

static struct summary summarize(uint32_t *v, size_t n)
{
	struct summary s = { 0 };
	double sum = 0;

	qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s.mean = sum / (double)n;
	s.p50 = v[n / 2];
	s.p99 = v[(size_t)((double)n * 0.99)];
	s.p999 = v[(size_t)((double)n * 0.999)];
	s.max = v[n - 1];
	return s;
}

int main(int argc, char **argv)
{
	size_t n = 2000000;
	char db[256] = "";
	bool memory_only = false, own_db = true;
	int opt;

	while ((opt = getopt(argc, argv, "n:d:m")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (opt == 'd') {
			snprintf(db, sizeof(db), "%s", optarg);
			own_db = false;
		} else if (opt == 'm')
			memory_only = true;
		else {
			fprintf(stderr, "usage: %s [-n PAIRS] [-d DB | -m]\n", argv[0]);
			return 2;
		}
	}
	if (n == 0)
		n = 1;
	if (db[0] == '\0')
		snprintf(db, sizeof(db), "/tmp/budget_bench.%d.db", (int)getpid());

	struct budget_conf *conf;
	struct budget *b;
	/* flushing 10 times as often as the default puts its lock hold in the tail, if any */
	struct budget_opts o = { .db_path = memory_only ? NULL : db, .flush_interval_ms = 100 };
	char err[512];

	if (!budget_conf_parse(conf_text, strlen(conf_text), "bench", NULL, &conf, err,
			       sizeof(err))) {
		fprintf(stderr, "budget_bench: %s\n", err);
		return 1;
	}
	if (budget_open(&b, conf, &o, time(NULL), err, sizeof(err)) != 0) {
		fprintf(stderr, "budget_bench: %s\n", err);
		return 1;
	}

	/* two threads contending */
	pthread_barrier_t start;
	struct worker w[2];
	pthread_t th[2];
	uint32_t *all = malloc(2 * n * sizeof(uint32_t));

	if (all == NULL)
		return 1;
	pthread_barrier_init(&start, NULL, 2);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .b = b, .id = i, .n = n, .ns = all + (size_t)i * n,
					.start = &start };
		pthread_create(&th[i], NULL, run, &w[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	struct summary two = summarize(all, 2 * n);

	/* one thread, for comparison */
	struct worker solo = { .b = b, .id = 2, .n = n, .ns = all };

	run(&solo);
	struct summary one = summarize(all, n);
	struct budget_stats st;

	budget_get_stats(b, &st);
	budget_close(b);
	if (own_db && !memory_only) {
		char side[300];

		unlink(db);
		snprintf(side, sizeof(side), "%s-wal", db);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", db);
		unlink(side);
	}
	free(all);

	printf("budget_reserve_settle_ns_p50=%u budget_reserve_settle_ns_p99=%u threads=2\n",
	       two.p50, two.p99);
	printf("2 threads: mean %.0f ns, p50 %u, p99 %u, p99.9 %u, max %u ns over %zu pairs\n",
	       two.mean, two.p50, two.p99, two.p999, two.max, 2 * n);
	printf("1 thread:  mean %.0f ns, p50 %u, p99 %u, p99.9 %u, max %u ns over %zu pairs\n",
	       one.mean, one.p50, one.p99, one.p999, one.max, n);
	printf("budgets per request 6, persistence %s, flushes %llu, failures %d\n",
	       memory_only ? "off" : "on (SQLite WAL)", (unsigned long long)st.flushes,
	       w[0].failures + w[1].failures + solo.failures);
	return w[0].failures + w[1].failures + solo.failures ? 1 : 0;
}
