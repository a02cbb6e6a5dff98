/* prices_int: the loaded price table's layout, shared by the parser (prices.c, prices_period.c)
 * and the lookup and cost code (prices_lookup.c); positions for messages come from jpos.c.
 * Internal to the prices module. Every string and array is owned by struct prices. */
#ifndef MODELUX_PRICES_INT_H
#define MODELUX_PRICES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prices.h"

/* A model name or alias, lower-cased, in a provider's sorted lookup index. */
struct prices_name {
	char *lname;
	uint32_t model; /* index into the provider's models */
	int32_t alias;  /* index into the model's aliases; -1 for the model's own name */
};

struct prices_prefix {
	char *lprefix;
	size_t len;
	uint32_t model;
};

struct prices_model {
	char *name;
	char **aliases;
	size_t naliases;
	char **prefixes;
	size_t nprefixes;
	struct prices_period *periods; /* sorted by <from>, not overlapping */
	size_t nperiods;
};

struct prices_provider {
	char *name;
	char *same_as; /* NULL, or the provider whose models and accounting apply */
	size_t target; /* index of that provider (own index when same_as is NULL) */
	struct prices_accounting acct;
	struct prices_model *models;
	size_t nmodels;
	struct prices_name *names; /* sorted by lname */
	size_t nnames;
	struct prices_prefix *prefixes;
	size_t nprefixes;
};

struct prices {
	char as_of[16];
	struct prices_provider *providers;
	size_t nproviders;
};

/* One step of a JSON path: an object key, or an array index when <key> is NULL. */
struct prices_jstep {
	const char *key;
	size_t index;
};


/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t prices_days_from_civil(int64_t y, unsigned m, unsigned d);
void prices_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
