/* budget_int: what the budget*.c files share and nobody else sees: calendar arithmetic, the
 * counters (struct budget_entry), the engine, and the SQLite store's contract. */
#ifndef MODELUX_BUDGET_INT_H
#define MODELUX_BUDGET_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "budget.h"

#define BUDGET_DAY 86400
#define BUDGET_T_MIN 0LL            /* the range of <now> the engine accepts ... */
#define BUDGET_T_MAX 253402300799LL /* ... 1970-01-01 .. 9999-12-31T23:59:59Z */

/* ---- calendar (proleptic Gregorian; day 0 = 1970-01-01) ---- */

static inline int64_t bcal_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static inline int64_t bcal_floor_mod(int64_t a, int64_t b)
{
	return a - bcal_floor_div(a, b) * b;
}

static inline bool bcal_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline unsigned bcal_month_days(int64_t y, unsigned m)
{
	static const unsigned char len[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && bcal_leap(y) ? 29 : len[m - 1];
}

/* Day number of <y>-<m>-<d>. Counting years from March puts the leap day last, so the days
 * before a month are (153 * months_since_march + 2) / 5 for every month. */
static inline int64_t bcal_days(int64_t y, unsigned m, unsigned d)
{
	if (m < 3) {
		y -= 1;
		m += 12;
	}
	return 365 * y + bcal_floor_div(y, 4) - bcal_floor_div(y, 100) + bcal_floor_div(y, 400) +
	       (153 * (m - 3) + 2) / 5 + d - 1 - 719468;
}

/* The inverse of bcal_days: estimate the year from the mean Gregorian year, then correct. */
static inline void bcal_civil(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t year = bcal_floor_div(days * 400, 146097) + 1970;

	while (bcal_days(year, 1, 1) > days)
		year--;
	while (bcal_days(year + 1, 1, 1) <= days)
		year++;
	int64_t left = days - bcal_days(year, 1, 1);
	unsigned month = 1;

	while (left >= bcal_month_days(year, month)) {
		left -= bcal_month_days(year, month);
		month++;
	}
	*y = year;
	*m = month;
	*d = (unsigned)left + 1;
}

/* 0 = Sunday ... 6 = Saturday; 1970-01-01 was a Thursday. */
static inline unsigned bcal_weekday(int64_t days)
{
	return (unsigned)bcal_floor_mod(days + 4, 7);
}

/* ---- counters ---- */

/* One (budget, value) pair and its current window. Name, value, scope and window never change
 * for the life of an entry (the flush thread reads them without the lock). */
struct budget_entry {
	char name[BUDGET_NAME_MAX];
	char value[BUDGET_VALUE_MAX];
	enum budget_scope scope;
	enum budget_window window;
	int def;           /* index in conf->defs; -1 once a reload dropped the budget */
	uint64_t hash;     /* of (def, value) for wildcard entries in the table */
	uint64_t epoch;    /* bumped when the window rolls over */
	int64_t start, end;
	int64_t spent, reserved;
	int64_t unflushed; /* settled into this window since the last flush */
	uint32_t inflight; /* open reservations holding this entry */
	bool dirty;        /* on b->dirty */
	bool fresh;        /* created by the load in progress: database rows may set it */
	struct budget_entry *dirty_next;
	struct budget_entry *orphan_next;
};

/* Spend to add to one database row. Keys are copies: the entry may be gone when it is written. */
struct bstore_delta {
	char name[BUDGET_NAME_MAX];
	char value[BUDGET_VALUE_MAX];
	enum budget_scope scope;
	enum budget_window window;
	int64_t start, end, delta;
};

struct budget_exact_ix { /* exact-match budgets sorted by (scope, match) */
	enum budget_scope scope;
	const char *match;
	int def;
};

struct budget_win {
	int64_t start, end;
};

/* Per configuration: the lookup structures derived from conf->defs. */
struct budget_rt {
	struct budget_conf *conf;
	struct budget_entry **exact;     /* per def: its counter (exact budgets), else NULL */
	struct budget_exact_ix *ix;      /* exact budgets, sorted */
	size_t nix;
	int *wild[BUDGET_SCOPE_COUNT];   /* wildcard def indexes per scope */
	size_t nwild[BUDGET_SCOPE_COUNT];
	struct budget_entry **slots;     /* open addressing, linear probing: wildcard entries */
	size_t nslots, nused;
};

struct bstore;

struct budget {
	pthread_mutex_t lock; /* guards everything below up to <io_lock> */
	struct budget_rt rt;
	struct budget_win win[BUDGET_WINDOW_COUNT]; /* current windows; only move forward */
	size_t ntracked, max_values;
	struct budget_entry *dirty;   /* entries with unflushed spend */
	struct budget_entry *orphans; /* dropped by a reload, freed once idle and flushed */
	struct bstore_delta *late;    /* spend for windows entries no longer hold */
	size_t nlate, late_cap;
	bool need_sweep;              /* a window rolled: stale wildcard entries can go */
	struct budget_stats stats;

	pthread_mutex_t io_lock; /* one writer of the store at a time; taken before <lock> */
	struct bstore *store;    /* NULL = memory only */
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool stop;
	bool thread_started;
	pthread_t thread;
	unsigned flush_ms;
};

/* ---- budget_table.c: lookup structures and entries (all under b->lock) ---- */

uint64_t btab_hash(int def, const char *value);
struct budget_entry *btab_find(const struct budget_rt *rt, int def, const char *value,
			       uint64_t hash);
/* Insert <e> (hash set); false on ENOMEM. */
bool btab_insert(struct budget_rt *rt, struct budget_entry *e);
void btab_remove(struct budget_rt *rt, struct budget_entry *e);
/* Build exact index and wildcard lists of <rt> for rt->conf; false on ENOMEM. */
bool btab_build(struct budget_rt *rt, size_t table_hint);
void btab_free(struct budget_rt *rt);
/* The defs applying to scope <s> with value <v>: exact ones via the index. */
size_t btab_exact_range(const struct budget_rt *rt, enum budget_scope s, const char *v,
			size_t *first);

void bentry_init(struct budget_entry *e, const struct budget_def *def, int def_ix,
		 const char *value, const struct budget_win *w);
struct budget_entry *bentry_new(const struct budget_def *def, int def_ix, const char *value,
				const struct budget_win *w);
/* Current window of <kind> at <now> (moves forward only); marks a sweep when it advances. */
const struct budget_win *bwin_now(struct budget *b, enum budget_window kind, int64_t now);
/* Move <e> into the current window when its own has closed; the closed window's unflushed
 * spend goes to the late queue (counted in stats.lost_micro if even that fails). */
void bentry_roll(struct budget *b, struct budget_entry *e, int64_t now);
/* Queue spend for a window the entry no longer holds. */
void blate_push(struct budget *b, const struct budget_entry *e, int64_t start, int64_t end,
		int64_t delta);
void bentry_mark_dirty(struct budget *b, struct budget_entry *e);

/* ---- budget_store.c: the SQLite file ---- */

typedef int (*bstore_row_fn)(void *ctx, const char *name, const char *scope, const char *window,
			     const char *value, int64_t spent);

int bstore_open(const char *path, int64_t now, struct bstore **out, char *err, size_t errlen);
void bstore_close(struct bstore *s);
/* Every (name, scope, window, value) with its spend summed over the rows whose window contains
 * <now>. Stops with <fn>'s result when it is not 0. */
int bstore_load(struct bstore *s, int64_t now, bstore_row_fn fn, void *ctx, char *err,
		size_t errlen);
/* Add the deltas in one transaction (all or nothing). */
int bstore_apply(struct bstore *s, const struct bstore_delta *d, size_t n, int64_t now, char *err,
		 size_t errlen);

/* ---- budget_tz.c ---- */

/* Smallest instant after <x> where the offset of <tz> may change (INT64_MAX: never). */
int64_t btz_next_change(const struct budget_tz *tz, int64_t x);

/* ---- shared helpers ---- */

bool budget_scope_parse(const char *s, enum budget_scope *out);
bool budget_window_parse(const char *s, enum budget_window *out);
int64_t budget_sat_add(int64_t a, int64_t b);

#endif
