/* budget: the accounting on the request path: reserve on every applying budget or none, settle
 * to the actual cost, release, and status for the policy. Borrows the engine (budget_engine.c),
 * its lookup structures (budget_table.c) and the caller's subject strings.
 *
 * One mutex guards all counters. A reservation touches at most BUDGET_MAX_APPLY counters and
 * holds the lock for a few hundred nanoseconds, so one lock is both the simplest way to make
 * "all or none" exact and cheaper than ordered per-counter locks at these sizes. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "budget_int.h"

struct applying {
	int def;
	struct budget_entry *entry; /* NULL: a wildcard value never seen (status only) */
};

static void subject_values(const struct budget_subject *s, const char *v[BUDGET_SCOPE_COUNT])
{
	v[BUDGET_SCOPE_PROJECT] = s ? s->project : NULL;
	v[BUDGET_SCOPE_TEAM] = s ? s->team : NULL;
	v[BUDGET_SCOPE_KEY] = s ? s->key : NULL;
	v[BUDGET_SCOPE_USER] = s ? s->user : NULL;
	v[BUDGET_SCOPE_HOST] = s ? s->host : NULL;
}

static int64_t clamp_now(int64_t now)
{
	return now < BUDGET_T_MIN ? BUDGET_T_MIN : now > BUDGET_T_MAX ? BUDGET_T_MAX : now;
}

static void fill_over(struct budget *b, const struct budget_entry *e, int def, const char *value,
		      int64_t now, int64_t request, struct budget_over *o)
{
	const struct budget_def *d = &b->rt.conf->defs[def];

	memset(o, 0, sizeof(*o));
	memcpy(o->name, d->name, sizeof(o->name));
	o->scope = d->scope;
	snprintf(o->value, sizeof(o->value), "%s", value);
	o->window = d->window;
	o->cap_micro = d->cap_micro;
	o->request_micro = request;
	if (e != NULL) {
		o->window_start = e->start;
		o->window_end = e->end;
		o->spent_micro = e->spent;
		o->reserved_micro = e->reserved;
	} else {
		const struct budget_win *w = bwin_now(b, d->window, now);

		o->window_start = w->start;
		o->window_end = w->end;
	}
	o->start_utcoff = budget_tz_offset(b->rt.conf->tz, o->window_start);
	o->end_utcoff = budget_tz_offset(b->rt.conf->tz, o->window_end);
}

/* Every budget applying to <v> (at most BUDGET_MAX_APPLY, guaranteed by the configuration).
 * With <create>, a wildcard value seen for the first time gets its counter; -ENOSPC when the
 * tracking limit is reached (<over> names the budget), -ENOMEM. Under b->lock. */
static int collect(struct budget *b, const char *v[BUDGET_SCOPE_COUNT], int64_t now, bool create,
		   struct applying *out, unsigned *nout, int64_t request, struct budget_over *over)
{
	const struct budget_rt *rt = &b->rt;
	unsigned n = 0;

	for (unsigned s = 0; s < BUDGET_SCOPE_COUNT; s++) {
		size_t first, cnt;

		if (v[s] == NULL || v[s][0] == '\0')
			continue;
		cnt = btab_exact_range(rt, (enum budget_scope)s, v[s], &first);
		for (size_t k = 0; k < cnt && n < BUDGET_MAX_APPLY; k++) {
			int def = rt->ix[first + k].def;

			out[n++] = (struct applying){ def, rt->exact[def] };
		}
		for (size_t k = 0; k < rt->nwild[s] && n < BUDGET_MAX_APPLY; k++) {
			int def = rt->wild[s][k];
			uint64_t h = btab_hash(def, v[s]);
			struct budget_entry *e = btab_find(rt, def, v[s], h);

			if (e == NULL && create) {
				if (b->ntracked >= b->max_values) {
					fill_over(b, NULL, def, v[s], now, request, over);
					return -ENOSPC;
				}
				e = bentry_new(&rt->conf->defs[def], def, v[s],
					       bwin_now(b, rt->conf->defs[def].window, now));
				if (e == NULL || !btab_insert(&b->rt, e)) {
					free(e);
					return -ENOMEM;
				}
				b->ntracked++;
			}
			out[n++] = (struct applying){ def, e };
		}
	}
	*nout = n;
	return 0;
}

int budget_reserve(struct budget *b, const struct budget_subject *subject, int64_t max_cost_micro,
		   int64_t now, struct budget_resv *resv)
{
	const char *v[BUDGET_SCOPE_COUNT];
	struct applying ap[BUDGET_MAX_APPLY];
	unsigned n = 0;
	int rc, worst = -1;

	resv->b = b;
	resv->active = false;
	resv->n = 0;
	resv->amount_micro = max_cost_micro;
	if (max_cost_micro < 0 || max_cost_micro > BUDGET_MAX_MICRO)
		return -EINVAL;
	subject_values(subject, v);
	for (unsigned s = 0; s < BUDGET_SCOPE_COUNT; s++)
		if (v[s] != NULL && strnlen(v[s], BUDGET_VALUE_MAX) >= BUDGET_VALUE_MAX)
			return -EINVAL;
	now = clamp_now(now);

	pthread_mutex_lock(&b->lock);
	rc = collect(b, v, now, true, ap, &n, max_cost_micro, &resv->over);
	if (rc != 0) {
		b->stats.denials++;
		pthread_mutex_unlock(&b->lock);
		return rc;
	}
	/* Check every counter before touching any: nothing to undo on refusal. */
	for (unsigned i = 0; i < n; i++) {
		struct budget_entry *e = ap[i].entry;
		int64_t cap = b->rt.conf->defs[ap[i].def].cap_micro;

		bentry_roll(b, e, now);
		if (budget_sat_add(budget_sat_add(e->spent, e->reserved), max_cost_micro) > cap &&
		    (worst < 0 || ap[i].def < ap[worst].def))
			worst = (int)i;
	}
	if (worst >= 0) {
		fill_over(b, ap[worst].entry, ap[worst].def, ap[worst].entry->value, now,
			  max_cost_micro, &resv->over);
		b->stats.denials++;
		pthread_mutex_unlock(&b->lock);
		return -EDQUOT;
	}
	for (unsigned i = 0; i < n; i++) {
		struct budget_entry *e = ap[i].entry;

		e->reserved += max_cost_micro;
		e->inflight++;
		resv->slot[i].entry = e;
		resv->slot[i].epoch = e->epoch;
		resv->slot[i].window_start = e->start;
		resv->slot[i].window_end = e->end;
	}
	resv->n = n;
	resv->active = true;
	b->stats.reserves++;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* Give back the reservation of every slot and, with <spend>, add <actual> to the window each
 * was reserved in: the entry's current one, or a closed one through the late queue. */
static void finish(struct budget_resv *r, bool spend, int64_t actual, int64_t now)
{
	struct budget *b = r->b;

	for (unsigned i = 0; i < r->n; i++) {
		struct budget_entry *e = r->slot[i].entry;

		if (spend)
			bentry_roll(b, e, now);
		e->inflight--;
		if (r->slot[i].epoch == e->epoch) {
			e->reserved -= r->amount_micro;
			if (spend) {
				e->spent = budget_sat_add(e->spent, actual);
				e->unflushed = budget_sat_add(e->unflushed, actual);
				bentry_mark_dirty(b, e);
			}
		} else if (spend) {
			b->stats.late_settles++;
			blate_push(b, e, r->slot[i].window_start, r->slot[i].window_end, actual);
		}
	}
	r->active = false;
}

int budget_settle(struct budget_resv *resv, int64_t actual_micro, int64_t now)
{
	if (!resv->active)
		return -EALREADY;
	if (actual_micro < 0)
		return -EINVAL;
	if (actual_micro > BUDGET_MAX_MICRO)
		actual_micro = BUDGET_MAX_MICRO;
	struct budget *b = resv->b;

	pthread_mutex_lock(&b->lock);
	finish(resv, true, actual_micro, clamp_now(now));
	b->stats.settles++;
	if (actual_micro > resv->amount_micro) {
		b->stats.overruns++;
		b->stats.overrun_micro += actual_micro - resv->amount_micro;
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int budget_release(struct budget_resv *resv)
{
	if (!resv->active)
		return -EALREADY;
	struct budget *b = resv->b;

	pthread_mutex_lock(&b->lock);
	finish(resv, false, 0, 0);
	b->stats.releases++;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void budget_status(struct budget *b, const struct budget_subject *subject, int64_t now,
		   struct budget_status *st)
{
	const char *v[BUDGET_SCOPE_COUNT];
	struct applying ap[BUDGET_MAX_APPLY];
	struct budget_over unused;
	unsigned n = 0;
	int64_t least_left = INT64_MAX;

	memset(st, 0, sizeof(*st));
	st->used_pct = 0;
	st->remaining_usd = INFINITY;
	subject_values(subject, v);
	for (unsigned s = 0; s < BUDGET_SCOPE_COUNT; s++)
		if (v[s] != NULL && strnlen(v[s], BUDGET_VALUE_MAX) >= BUDGET_VALUE_MAX)
			v[s] = NULL; /* such a request is refused by budget_reserve anyway */
	now = clamp_now(now);

	pthread_mutex_lock(&b->lock);
	collect(b, v, now, false, ap, &n, 0, &unused);
	for (unsigned i = 0; i < n; i++) {
		const struct budget_def *d = &b->rt.conf->defs[ap[i].def];
		const struct budget_entry *e = ap[i].entry;
		const struct budget_win *w = bwin_now(b, d->window, now);
		/* A counter whose window has closed has not rolled yet: its new window is empty. */
		bool current = e != NULL && now < e->end;
		int64_t spent = current ? e->spent : 0, reserved = current ? e->reserved : 0;
		int64_t used = budget_sat_add(spent, reserved);
		double pct = d->cap_micro > 0 ? (double)used / (double)d->cap_micro : 1.0;
		int64_t left = d->cap_micro - used;

		if (left < least_left)
			least_left = left;
		if (used >= d->cap_micro)
			st->exhausted = true;
		if (pct >= d->soft_pct)
			st->soft = true;
		if (i == 0 || pct > st->used_pct) {
			st->used_pct = pct;
			memcpy(st->name, d->name, sizeof(st->name));
			st->scope = d->scope;
			snprintf(st->value, sizeof(st->value), "%s", v[d->scope]);
			st->window = d->window;
			st->window_end = current ? e->end : w->end;
			st->cap_micro = d->cap_micro;
			st->spent_micro = spent;
			st->reserved_micro = reserved;
		}
	}
	pthread_mutex_unlock(&b->lock);
	st->applying = n;
	if (n > 0)
		st->remaining_usd = least_left > 0 ? (double)least_left / 1e6 : 0.0;
}

void budget_get_stats(struct budget *b, struct budget_stats *st)
{
	pthread_mutex_lock(&b->lock);
	*st = b->stats;
	st->tracked_values = b->ntracked;
	pthread_mutex_unlock(&b->lock);
}

void budget_over_format(const struct budget_over *o, char *buf, size_t size)
{
	char cap[32], spent[32], reserved[32], req[32], from[40], to[40];
	budget_usd_format(o->cap_micro, cap, sizeof(cap));
	budget_usd_format(o->spent_micro, spent, sizeof(spent));
	budget_usd_format(o->reserved_micro, reserved, sizeof(reserved));
	budget_usd_format(o->request_micro, req, sizeof(req));
	budget_format_offset(o->window_start, o->start_utcoff, from, sizeof(from));
	budget_format_offset(o->window_end, o->end_utcoff, to, sizeof(to));
	snprintf(buf, size,
		 "budget \"%s\" (%s %s, %s window %s to %s): cap $%s, spent $%s, reserved $%s, "
		 "this request up to $%s",
		 o->name, budget_scope_name(o->scope), o->value, budget_window_name(o->window), from,
		 to, cap, spent, reserved, req);
}
