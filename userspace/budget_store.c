/* budget_store: the budgets' SQLite file. One row per (budget name, scope, window kind, scope
 * value, window start) holding the settled spend of that window; rows are only ever added to.
 * WAL with synchronous=NORMAL: a commit survives the process being killed (it is in the WAL
 * file), only a power loss can take the last commits. Owns the connection; callers serialize
 * (b->io_lock), the engine's counters never wait for this file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "budget_int.h"

/* Rows older than this are history nobody enforces any more; they are pruned at open. */
#define STORE_KEEP_SECONDS (400LL * BUDGET_DAY)

struct bstore {
	sqlite3 *db;
	sqlite3_stmt *add;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS budget_spend ("
	" name TEXT NOT NULL, scope TEXT NOT NULL, period TEXT NOT NULL, value TEXT NOT NULL,"
	" window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,"
	" spent_micro INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" PRIMARY KEY (name, scope, period, value, window_start)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS budget_spend_end ON budget_spend(window_end);";

static const char add_sql[] =
	"INSERT INTO budget_spend VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	" ON CONFLICT (name, scope, period, value, window_start) DO UPDATE SET"
	" spent_micro = spent_micro + excluded.spent_micro, window_end = excluded.window_end,"
	" updated = excluded.updated";

static int db_fail(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "budget database: %s: %s", what, db ? sqlite3_errmsg(db) : "?");
	return -EIO;
}

int bstore_open(const char *path, int64_t now, struct bstore **out, char *err, size_t errlen)
{
	struct bstore *s = calloc(1, sizeof(*s));
	char sql[128];

	*out = NULL;
	if (s == NULL) {
		snprintf(err, errlen, "budget database: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		int rc = db_fail(s->db, path, err, errlen);

		bstore_close(s);
		return rc;
	}
	sqlite3_busy_timeout(s->db, 2000);
	snprintf(sql, sizeof(sql), "DELETE FROM budget_spend WHERE window_end < %lld",
		 (long long)(now - STORE_KEEP_SECONDS));
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
			 NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, add_sql, -1, &s->add, NULL) != SQLITE_OK) {
		int rc = db_fail(s->db, path, err, errlen);

		bstore_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void bstore_close(struct bstore *s)
{
	if (s == NULL)
		return;
	sqlite3_finalize(s->add);
	sqlite3_close(s->db);
	free(s);
}

int bstore_load(struct bstore *s, int64_t now, bstore_row_fn fn, void *ctx, char *err,
		size_t errlen)
{
	static const char sql[] =
		"SELECT name, scope, period, value, SUM(spent_micro) FROM budget_spend"
		" WHERE window_end > ?1 AND window_start <= ?1"
		" GROUP BY name, scope, period, value";
	sqlite3_stmt *st;
	int rc = 0, step;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(s->db, "load", err, errlen);
	sqlite3_bind_int64(st, 1, now);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *scope = (const char *)sqlite3_column_text(st, 1);
		const char *period = (const char *)sqlite3_column_text(st, 2);
		const char *value = (const char *)sqlite3_column_text(st, 3);

		if (name == NULL || scope == NULL || period == NULL || value == NULL)
			continue;
		rc = fn(ctx, name, scope, period, value, sqlite3_column_int64(st, 4));
		if (rc != 0)
			break;
	}
	if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = db_fail(s->db, "load", err, errlen);
	sqlite3_finalize(st);
	return rc;
}

int bstore_apply(struct bstore *s, const struct bstore_delta *d, size_t n, int64_t now, char *err,
		 size_t errlen)
{
	if (n == 0)
		return 0;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s->db, "begin", err, errlen);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *st = s->add;

		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, d[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, budget_scope_name(d[i].scope), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, budget_window_name(d[i].window), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, d[i].value, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, d[i].start);
		sqlite3_bind_int64(st, 6, d[i].end);
		sqlite3_bind_int64(st, 7, d[i].delta);
		sqlite3_bind_int64(st, 8, now);
		if (sqlite3_step(st) != SQLITE_DONE) {
			int rc = db_fail(s->db, "write", err, errlen);

			sqlite3_reset(st);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	sqlite3_reset(s->add); /* an active statement would keep the transaction open */
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = db_fail(s->db, "commit", err, errlen);

		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}
