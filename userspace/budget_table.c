/* budget_table: the lookup structures behind reservations: an index of exact-match budgets by
 * (scope, value), per-scope lists of wildcard budgets, an open-addressing table of wildcard
 * counters, and the counters' window roll-over. Owns the structures of a struct budget_rt and
 * the entries; every function runs under b->lock (or before the engine is shared). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget_int.h"

/* FNV-1a over the value, mixed with the budget index. */
uint64_t btab_hash(int def, const char *value)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)(unsigned)def * 0x9E3779B97F4A7C15ULL);

	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

struct budget_entry *btab_find(const struct budget_rt *rt, int def, const char *value,
			       uint64_t hash)
{
	if (rt->nslots == 0)
		return NULL;
	size_t mask = rt->nslots - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct budget_entry *e = rt->slots[i];

		if (e == NULL)
			return NULL;
		if (e->hash == hash && e->def == def && strcmp(e->value, value) == 0)
			return e;
	}
}

static void place(struct budget_entry **slots, size_t nslots, struct budget_entry *e)
{
	size_t mask = nslots - 1, i = e->hash & mask;

	while (slots[i] != NULL)
		i = (i + 1) & mask;
	slots[i] = e;
}

/* Keep the load at most one half so probes stay short. */
static bool grow(struct budget_rt *rt, size_t want)
{
	size_t n = rt->nslots ? rt->nslots : 64;

	while (n / 2 < want)
		n *= 2;
	if (n == rt->nslots)
		return true;
	struct budget_entry **slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return false;
	for (size_t i = 0; i < rt->nslots; i++)
		if (rt->slots[i] != NULL)
			place(slots, n, rt->slots[i]);
	free(rt->slots);
	rt->slots = slots;
	rt->nslots = n;
	return true;
}

bool btab_insert(struct budget_rt *rt, struct budget_entry *e)
{
	if (!grow(rt, rt->nused + 1))
		return false;
	place(rt->slots, rt->nslots, e);
	rt->nused++;
	return true;
}

/* Linear probing deletes by moving later members of the run back into the hole. */
void btab_remove(struct budget_rt *rt, struct budget_entry *e)
{
	size_t mask = rt->nslots - 1, i = e->hash & mask;

	while (rt->slots[i] != e) {
		if (rt->slots[i] == NULL)
			return;
		i = (i + 1) & mask;
	}
	rt->slots[i] = NULL;
	rt->nused--;
	for (size_t j = (i + 1) & mask; rt->slots[j] != NULL; j = (j + 1) & mask) {
		struct budget_entry *m = rt->slots[j];
		size_t home = m->hash & mask;

		/* <m> may move to the hole unless its home lies cyclically in (hole, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);

		if (!stays) {
			rt->slots[i] = m;
			rt->slots[j] = NULL;
			i = j;
		}
	}
}

static int ix_cmp(const void *a, const void *b)
{
	const struct budget_exact_ix *x = a, *y = b;

	if (x->scope != y->scope)
		return x->scope < y->scope ? -1 : 1;
	int c = strcmp(x->match, y->match);

	return c ? c : (x->def < y->def ? -1 : x->def > y->def);
}

bool btab_build(struct budget_rt *rt, size_t table_hint)
{
	const struct budget_conf *c = rt->conf;
	size_t nwild[BUDGET_SCOPE_COUNT] = { 0 };

	rt->exact = calloc(c->ndefs ? c->ndefs : 1, sizeof(*rt->exact));
	rt->ix = calloc(c->ndefs ? c->ndefs : 1, sizeof(*rt->ix));
	if (rt->exact == NULL || rt->ix == NULL)
		return false;
	for (size_t i = 0; i < c->ndefs; i++)
		if (c->defs[i].wildcard)
			nwild[c->defs[i].scope]++;
	for (unsigned s = 0; s < BUDGET_SCOPE_COUNT; s++) {
		rt->wild[s] = calloc(nwild[s] ? nwild[s] : 1, sizeof(int));
		if (rt->wild[s] == NULL)
			return false;
	}
	for (size_t i = 0; i < c->ndefs; i++) {
		const struct budget_def *d = &c->defs[i];

		if (d->wildcard)
			rt->wild[d->scope][rt->nwild[d->scope]++] = (int)i;
		else
			rt->ix[rt->nix++] = (struct budget_exact_ix){ d->scope, d->match, (int)i };
	}
	qsort(rt->ix, rt->nix, sizeof(*rt->ix), ix_cmp);
	return grow(rt, table_hint);
}

void btab_free(struct budget_rt *rt)
{
	free(rt->exact);
	free(rt->ix);
	for (unsigned s = 0; s < BUDGET_SCOPE_COUNT; s++)
		free(rt->wild[s]);
	free(rt->slots);
	memset(rt, 0, sizeof(*rt));
}

size_t btab_exact_range(const struct budget_rt *rt, enum budget_scope s, const char *v,
			size_t *first)
{
	size_t lo = 0, hi = rt->nix;

	while (lo < hi) { /* first index not below (s, v) */
		size_t mid = lo + (hi - lo) / 2;
		const struct budget_exact_ix *x = &rt->ix[mid];

		if (x->scope < s || (x->scope == s && strcmp(x->match, v) < 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t n = 0;

	while (lo + n < rt->nix && rt->ix[lo + n].scope == s && strcmp(rt->ix[lo + n].match, v) == 0)
		n++;
	*first = lo;
	return n;
}

void bentry_init(struct budget_entry *e, const struct budget_def *def, int def_ix,
		 const char *value, const struct budget_win *w)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->name, def->name, sizeof(e->name));
	snprintf(e->value, sizeof(e->value), "%s", value);
	e->scope = def->scope;
	e->window = def->window;
	e->def = def_ix;
	e->hash = btab_hash(def_ix, e->value);
	e->start = w->start;
	e->end = w->end;
}

struct budget_entry *bentry_new(const struct budget_def *def, int def_ix, const char *value,
				const struct budget_win *w)
{
	struct budget_entry *e = malloc(sizeof(*e));

	if (e != NULL)
		bentry_init(e, def, def_ix, value, w);
	return e;
}

const struct budget_win *bwin_now(struct budget *b, enum budget_window kind, int64_t now)
{
	struct budget_win *w = &b->win[kind];

	if (now >= w->end) {
		budget_window_bounds(b->rt.conf->tz, kind, now, &w->start, &w->end);
		b->need_sweep = true;
	}
	return w;
}

void blate_push(struct budget *b, const struct budget_entry *e, int64_t start, int64_t end,
		int64_t delta)
{
	if (b->store == NULL || delta == 0)
		return;
	if (b->nlate == b->late_cap) {
		size_t ncap = b->late_cap ? b->late_cap * 2 : 16;
		struct bstore_delta *nl = realloc(b->late, ncap * sizeof(*nl));

		if (nl == NULL) {
			b->stats.lost_micro = budget_sat_add(b->stats.lost_micro, delta);
			return;
		}
		b->late = nl;
		b->late_cap = ncap;
	}
	struct bstore_delta *d = &b->late[b->nlate++];

	memcpy(d->name, e->name, sizeof(d->name));
	memcpy(d->value, e->value, sizeof(d->value));
	d->scope = e->scope;
	d->window = e->window;
	d->start = start;
	d->end = end;
	d->delta = delta;
}

void bentry_mark_dirty(struct budget *b, struct budget_entry *e)
{
	if (b->store == NULL || e->dirty)
		return;
	e->dirty = true;
	e->dirty_next = b->dirty;
	b->dirty = e;
}

void bentry_roll(struct budget *b, struct budget_entry *e, int64_t now)
{
	const struct budget_win *w = bwin_now(b, e->window, now);

	if (e->start >= w->start)
		return; /* current, or the clock went back: a closed window never reopens */
	/* What the closed window settled since the last flush still belongs to it. */
	blate_push(b, e, e->start, e->end, e->unflushed);
	e->epoch++;
	e->start = w->start;
	e->end = w->end;
	e->spent = 0;
	e->reserved = 0;
	e->unflushed = 0;
}

int64_t budget_sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}
