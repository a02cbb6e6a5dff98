/* budget_engine: the life of a struct budget: open (load the current windows' spend from the
 * store), the flush thread (settled spend to SQLite every flush_ms, at most 1 s), reload (keep
 * the counters of budgets that remain), close. Owns the engine, its thread and the store;
 * borrows budget_table.c for the lookup structures and budget_store.c for SQL.
 *
 * Lock order: io_lock (one store user at a time) before lock (the counters). The store is
 * never used with <lock> held, so reservations never wait for the disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget_int.h"

#define FLUSH_MS_DEFAULT 1000
#define MAX_VALUES_DEFAULT 100000

/* A row of the store, read before the counters are locked. */
struct load_row {
	char name[BUDGET_NAME_MAX];
	char value[BUDGET_VALUE_MAX];
	enum budget_scope scope;
	enum budget_window window;
	int64_t spent;
};

struct load_rows {
	struct load_row *v;
	size_t n, cap;
};

static int read_row(void *ctx, const char *name, const char *scope, const char *window,
		    const char *value, int64_t spent)
{
	struct load_rows *rows = ctx;
	struct load_row r = { .spent = spent };

	if (strlen(name) >= BUDGET_NAME_MAX || strlen(value) >= BUDGET_VALUE_MAX || !value[0] ||
	    !budget_scope_parse(scope, &r.scope) || !budget_window_parse(window, &r.window) ||
	    spent <= 0)
		return 0; /* not a row this version could have written */
	memcpy(r.name, name, strlen(name) + 1);
	memcpy(r.value, value, strlen(value) + 1);
	if (rows->n == rows->cap) {
		size_t ncap = rows->cap ? rows->cap * 2 : 64;
		struct load_row *nv = realloc(rows->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		rows->v = nv;
		rows->cap = ncap;
	}
	rows->v[rows->n++] = r;
	return 0;
}

static int def_name_cmp(const void *a, const void *b, void *conf)
{
	const struct budget_conf *c = conf;

	return strcmp(c->defs[*(const int *)a].name, c->defs[*(const int *)b].name);
}

/* Def indexes of <c> sorted by name (names are unique), for lookups by name. */
static int *names_index(const struct budget_conf *c)
{
	int *ix = malloc((c->ndefs ? c->ndefs : 1) * sizeof(int));

	if (ix == NULL)
		return NULL;
	for (size_t i = 0; i < c->ndefs; i++)
		ix[i] = (int)i;
	qsort_r(ix, c->ndefs, sizeof(int), def_name_cmp, (void *)c);
	return ix;
}

/* The def of <c> that would count (name, scope, window, value), or -1. */
static int def_for(const struct budget_conf *c, const int *ix, const char *name,
		   enum budget_scope scope, enum budget_window window, const char *value)
{
	size_t lo = 0, hi = c->ndefs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(c->defs[ix[mid]].name, name);

		if (cmp == 0) {
			const struct budget_def *d = &c->defs[ix[mid]];

			if (d->scope != scope || d->window != window ||
			    (!d->wildcard && strcmp(d->match, value) != 0))
				return -1;
			return ix[mid];
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Give stored spend to the counters created by this load (fresh) or not yet existing; counters
 * carried over from before a reload already hold it. Under b->lock. */
static void apply_rows(struct budget *b, const struct load_rows *rows, const int *ix)
{
	const struct budget_conf *c = b->rt.conf;

	for (size_t i = 0; i < rows->n; i++) {
		const struct load_row *r = &rows->v[i];
		int def = def_for(c, ix, r->name, r->scope, r->window, r->value);
		struct budget_entry *e;

		if (def < 0)
			continue;
		if (!c->defs[def].wildcard) {
			e = b->rt.exact[def];
		} else {
			e = btab_find(&b->rt, def, r->value, btab_hash(def, r->value));
			if (e == NULL && b->ntracked < b->max_values) {
				e = bentry_new(&c->defs[def], def, r->value, &b->win[r->window]);
				if (e != NULL && !btab_insert(&b->rt, e)) {
					free(e);
					e = NULL;
				}
				if (e == NULL)
					continue;
				e->fresh = true;
				b->ntracked++;
			}
		}
		if (e != NULL && e->fresh)
			e->spent = budget_sat_add(e->spent, r->spent);
	}
	for (size_t i = 0; i < b->rt.nslots; i++)
		if (b->rt.slots[i] != NULL)
			b->rt.slots[i]->fresh = false;
	for (size_t i = 0; i < c->ndefs; i++)
		if (b->rt.exact[i] != NULL)
			b->rt.exact[i]->fresh = false;
}

/* Counters for the exact budgets that have none yet, taken from <spare> (NULL: allocated).
 * Under b->lock. */
static bool make_exact(struct budget *b, struct budget_entry **spare, size_t *nspare)
{
	const struct budget_conf *c = b->rt.conf;

	for (size_t i = 0; i < c->ndefs; i++) {
		if (c->defs[i].wildcard || b->rt.exact[i] != NULL)
			continue;
		struct budget_entry *e = spare && *nspare ? spare[--*nspare] : malloc(sizeof(*e));

		if (e == NULL)
			return false;
		bentry_init(e, &c->defs[i], (int)i, c->defs[i].match, &b->win[c->defs[i].window]);
		e->fresh = true;
		b->rt.exact[i] = e;
		b->ntracked++;
	}
	return true;
}

static void free_entries(struct budget *b)
{
	for (size_t i = 0; i < b->rt.nslots; i++)
		free(b->rt.slots[i]);
	if (b->rt.exact != NULL)
		for (size_t i = 0; i < b->rt.conf->ndefs; i++)
			free(b->rt.exact[i]);
	while (b->orphans != NULL) {
		struct budget_entry *e = b->orphans;

		b->orphans = e->orphan_next;
		free(e);
	}
}

/* ---- flushing ---- */

/* Drop wildcard counters of closed windows and orphans, once idle and flushed. Under b->lock. */
static void sweep(struct budget *b)
{
	bool left = false;

	for (size_t i = 0; b->need_sweep && i < b->rt.nslots;) {
		struct budget_entry *e = b->rt.slots[i];

		if (e == NULL || e->start >= b->win[e->window].start) {
			i++;
			continue;
		}
		if (e->inflight > 0 || e->dirty) {
			left = true;
			i++;
			continue;
		}
		btab_remove(&b->rt, e); /* may move a later entry into slot i: look again */
		b->ntracked--;
		free(e);
	}
	b->need_sweep = left;
	for (struct budget_entry **pp = &b->orphans; *pp != NULL;) {
		struct budget_entry *e = *pp;

		if (e->inflight == 0 && !e->dirty) {
			*pp = e->orphan_next;
			free(e);
		} else {
			pp = &e->orphan_next;
		}
	}
}

/* Take the late queue and every dirty counter's unflushed spend. Under b->lock. */
static int collect_deltas(struct budget *b, struct bstore_delta **out, size_t *nout)
{
	struct bstore_delta *v = b->late;
	size_t n = b->nlate, cap = b->late_cap;

	b->late = NULL;
	b->nlate = b->late_cap = 0;
	while (b->dirty != NULL) {
		struct budget_entry *e = b->dirty;

		if (e->unflushed != 0) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct bstore_delta *nv = realloc(v, ncap * sizeof(*nv));

				if (nv == NULL)
					break; /* the rest stay dirty for the next round */
				v = nv;
				cap = ncap;
			}
			struct bstore_delta *d = &v[n++];

			memcpy(d->name, e->name, sizeof(d->name));
			memcpy(d->value, e->value, sizeof(d->value));
			d->scope = e->scope;
			d->window = e->window;
			d->start = e->start;
			d->end = e->end;
			d->delta = e->unflushed;
			e->unflushed = 0;
		}
		e->dirty = false;
		b->dirty = e->dirty_next;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* One flush. Caller holds io_lock. A failed write puts the deltas back in the late queue. */
static int flush_locked(struct budget *b, char *err, size_t errlen)
{
	struct bstore_delta *v;
	size_t n;
	int rc = 0;
	char why[160] = "";

	pthread_mutex_lock(&b->lock);
	collect_deltas(b, &v, &n);
	sweep(b);
	pthread_mutex_unlock(&b->lock);
	if (b->store != NULL && n > 0)
		rc = bstore_apply(b->store, v, n, time(NULL), why, sizeof(why));
	pthread_mutex_lock(&b->lock);
	if (rc != 0) {
		b->stats.flush_errors++;
		snprintf(b->stats.last_flush_error, sizeof(b->stats.last_flush_error), "%s", why);
		for (size_t i = 0; i < n; i++) {
			struct budget_entry tmp;

			memcpy(tmp.name, v[i].name, sizeof(tmp.name));
			memcpy(tmp.value, v[i].value, sizeof(tmp.value));
			tmp.scope = v[i].scope;
			tmp.window = v[i].window;
			blate_push(b, &tmp, v[i].start, v[i].end, v[i].delta);
		}
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", why);
	} else if (n > 0) {
		b->stats.flushes++;
		b->stats.last_flush_error[0] = '\0';
	}
	pthread_mutex_unlock(&b->lock);
	free(v);
	return rc;
}

int budget_flush(struct budget *b, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&b->io_lock);
	rc = flush_locked(b, err, errlen);
	pthread_mutex_unlock(&b->io_lock);
	return rc;
}

static void *flush_thread(void *arg)
{
	struct budget *b = arg;
	struct timespec at;
	bool stopping;

	for (;;) {
		pthread_mutex_lock(&b->wake_lock);
		clock_gettime(CLOCK_MONOTONIC, &at);
		at.tv_nsec += (long)(b->flush_ms % 1000) * 1000000L;
		at.tv_sec += b->flush_ms / 1000 + at.tv_nsec / 1000000000L;
		at.tv_nsec %= 1000000000L;
		while (!b->stop && pthread_cond_timedwait(&b->wake, &b->wake_lock, &at) != ETIMEDOUT)
			;
		stopping = b->stop;
		pthread_mutex_unlock(&b->wake_lock);
		budget_flush(b, NULL, 0);
		if (stopping)
			return NULL;
	}
}

/* ---- open, close ---- */

static int read_store(struct budget *b, int64_t now, struct load_rows *rows, char *err,
		      size_t errlen)
{
	if (b->store == NULL)
		return 0;
	return bstore_load(b->store, now, read_row, rows, err, errlen);
}

static void init_windows(struct budget_win win[BUDGET_WINDOW_COUNT], const struct budget_tz *tz,
			 int64_t now)
{
	for (unsigned k = 0; k < BUDGET_WINDOW_COUNT; k++)
		budget_window_bounds(tz, (enum budget_window)k, now, &win[k].start, &win[k].end);
}

int budget_open(struct budget **out, struct budget_conf *conf, const struct budget_opts *opts,
		int64_t now, char *err, size_t errlen)
{
	struct budget *b = calloc(1, sizeof(*b));
	struct load_rows rows = { 0 };
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	int rc = -ENOMEM, *ix = NULL;

	*out = NULL;
	if (b == NULL) {
		budget_conf_free(conf);
		snprintf(err, errlen, "budgets: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	now = now < BUDGET_T_MIN ? BUDGET_T_MIN : now > BUDGET_T_MAX ? BUDGET_T_MAX : now;
	/* Adaptive: spin briefly before sleeping, the critical sections are short. */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&b->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_mutex_init(&b->io_lock, NULL);
	pthread_mutex_init(&b->wake_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->wake, &ca);
	pthread_condattr_destroy(&ca);

	b->rt.conf = conf;
	b->flush_ms = opts && opts->flush_interval_ms ? opts->flush_interval_ms : FLUSH_MS_DEFAULT;
	if (b->flush_ms > FLUSH_MS_DEFAULT)
		b->flush_ms = FLUSH_MS_DEFAULT;
	b->max_values = opts && opts->max_values ? opts->max_values : MAX_VALUES_DEFAULT;
	init_windows(b->win, conf->tz, now);
	if (!btab_build(&b->rt, 0) || !make_exact(b, NULL, NULL) || (ix = names_index(conf)) == NULL) {
		snprintf(err, errlen, "budgets: %s", strerror(ENOMEM));
		goto fail;
	}
	if (opts && opts->db_path) {
		rc = bstore_open(opts->db_path, now, &b->store, err, errlen);
		if (rc == 0)
			rc = read_store(b, now, &rows, err, errlen);
		if (rc != 0)
			goto fail;
	}
	apply_rows(b, &rows, ix);
	rc = -pthread_create(&b->thread, NULL, flush_thread, b);
	if (rc != 0) {
		snprintf(err, errlen, "budgets: flush thread: %s", strerror(-rc));
		goto fail;
	}
	b->thread_started = true;
	free(ix);
	free(rows.v);
	*out = b;
	return 0;
fail:
	free(ix);
	free(rows.v);
	budget_close(b);
	return rc ? rc : -ENOMEM;
}

void budget_close(struct budget *b)
{
	if (b == NULL)
		return;
	if (b->thread_started) {
		pthread_mutex_lock(&b->wake_lock);
		b->stop = true;
		pthread_cond_signal(&b->wake);
		pthread_mutex_unlock(&b->wake_lock);
		pthread_join(b->thread, NULL); /* its last round flushes */
	}
	free_entries(b);
	free(b->late);
	bstore_close(b->store);
	budget_conf_free(b->rt.conf);
	btab_free(&b->rt);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->wake_lock);
	pthread_mutex_destroy(&b->io_lock);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* ---- reload ---- */

/* Move <e> from the old configuration into <rt> if a budget there counts it, else orphan it.
 * Cannot fail: <rt>'s table was sized for every entry that exists. Under b->lock. */
static void carry(struct budget_rt *rt, const int *ix, const struct budget_win *old_win,
		  const struct budget_win *new_win, struct budget_entry *e,
		  struct budget_entry **orphans, size_t *ntracked)
{
	int def = def_for(rt->conf, ix, e->name, e->scope, e->window, e->value);
	bool wild = def >= 0 && rt->conf->defs[def].wildcard;

	if (def >= 0 && !wild && rt->exact[def] != NULL)
		def = -1; /* cannot happen with unique names; never count one value twice */
	if (def < 0) {
		e->def = -1;
		e->orphan_next = *orphans;
		*orphans = e;
		return;
	}
	e->def = def;
	e->hash = btab_hash(def, e->value);
	if (wild)
		btab_insert(rt, e);
	else
		rt->exact[def] = e;
	/* A new time zone relabels the current window; the spend stays with it. */
	if (e->start == old_win[e->window].start) {
		e->start = new_win[e->window].start;
		e->end = new_win[e->window].end;
	}
	(*ntracked)++;
}

static size_t count_list(const struct budget_entry *e)
{
	size_t n = 0;

	for (; e != NULL; e = e->orphan_next)
		n++;
	return n;
}

int budget_reload(struct budget *b, struct budget_conf *conf, int64_t now, char *err,
		  size_t errlen)
{
	struct budget_rt rt = { .conf = conf }, old;
	struct budget_win win[BUDGET_WINDOW_COUNT];
	struct load_rows rows = { 0 };
	struct budget_entry *orphans = NULL, *prev, **spare = NULL;
	size_t ntracked = 0, nspare = 0;
	int rc, *ix = NULL;

	now = now < BUDGET_T_MIN ? BUDGET_T_MIN : now > BUDGET_T_MAX ? BUDGET_T_MAX : now;
	pthread_mutex_lock(&b->io_lock);
	flush_locked(b, NULL, 0); /* the store is then complete for the counters in memory */
	rc = read_store(b, now, &rows, err, errlen);
	if (rc != 0)
		goto out;
	rc = -ENOMEM;
	init_windows(win, conf->tz, now);
	/* Everything that can fail happens before the first counter moves. */
	ix = names_index(conf);
	spare = calloc(conf->ndefs ? conf->ndefs : 1, sizeof(*spare));
	if (ix == NULL || spare == NULL)
		goto nomem;
	for (size_t i = 0; i < conf->ndefs; i++)
		if (!conf->defs[i].wildcard && (spare[nspare++] = malloc(sizeof(**spare))) == NULL)
			goto nomem;
	pthread_mutex_lock(&b->lock);
	if (!btab_build(&rt, b->rt.nused + count_list(b->orphans))) {
		pthread_mutex_unlock(&b->lock);
		goto nomem;
	}
	for (size_t i = 0; i < b->rt.nslots; i++)
		if (b->rt.slots[i] != NULL)
			carry(&rt, ix, b->win, win, b->rt.slots[i], &orphans, &ntracked);
	for (size_t i = 0; i < b->rt.conf->ndefs; i++)
		if (b->rt.exact[i] != NULL)
			carry(&rt, ix, b->win, win, b->rt.exact[i], &orphans, &ntracked);
	for (prev = b->orphans; prev != NULL;) {
		struct budget_entry *e = prev;

		prev = e->orphan_next;
		carry(&rt, ix, b->win, win, e, &orphans, &ntracked);
	}
	old = b->rt;
	b->rt = rt;
	b->orphans = orphans;
	b->ntracked = ntracked;
	memcpy(b->win, win, sizeof(win));
	b->need_sweep = true;
	make_exact(b, spare, &nspare); /* from <spare>: cannot fail */
	apply_rows(b, &rows, ix);
	pthread_mutex_unlock(&b->lock);
	budget_conf_free(old.conf); /* the entries moved; old.slots and old.exact are arrays only */
	btab_free(&old);
	conf = NULL;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "budgets: %s", strerror(ENOMEM));
	btab_free(&rt);
out:
	pthread_mutex_unlock(&b->io_lock);
	while (nspare > 0)
		free(spare[--nspare]);
	free(spare);
	free(ix);
	free(rows.v);
	if (conf != NULL)
		budget_conf_free(conf);
	return rc;
}
