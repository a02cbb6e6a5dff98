/* ilog_schema: the intercept log's tables and their ordered migrations, keyed by
 * PRAGMA user_version and marked by PRAGMA application_id. Borrows the caller's connection.
 *
 * Adding v2: append { 2, "ALTER TABLE ...; CREATE INDEX ..." } to ilog_migrations, raise
 * ILOG_SCHEMA_VERSION, and teach ilog_write.c / ilog_query.c the new columns. A v1 file is then
 * migrated by the agent in one transaction when it opens it; an older build refuses the v2 file. */
#include "ilog_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* clang-format off */
static const char ilog_schema_v1[] =
	/* One row per exchange. Empty strings for absent text; NULL for unknown numbers
	 * (pid, uid, ttfb, rule) and for the cost of a model without a price, so that
	 * SUM(cost_micro) never counts an unknown price as zero. */
	"CREATE TABLE records ("
	" id INTEGER PRIMARY KEY,"
	" start_ms INTEGER NOT NULL,"
	" end_ms INTEGER NOT NULL,"
	" flow_id INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" host TEXT NOT NULL,"
	" pid INTEGER,"
	" exe TEXT NOT NULL,"
	" uid INTEGER,"
	" user TEXT NOT NULL,"
	" provider TEXT NOT NULL,"
	" endpoint TEXT NOT NULL,"
	" model_requested TEXT NOT NULL,"
	" model_served TEXT NOT NULL,"
	" tags TEXT NOT NULL,"
	" key_fp TEXT,"
	" key_last4 TEXT NOT NULL,"
	" key_format TEXT NOT NULL,"
	" key_state TEXT NOT NULL CHECK (key_state IN ('none','sanctioned','shadow')),"
	" http_status INTEGER NOT NULL,"
	" stream INTEGER NOT NULL,"
	" tokens_in INTEGER NOT NULL,"
	" tokens_out INTEGER NOT NULL,"
	" tokens_cached INTEGER NOT NULL,"
	" tokens_cache_write INTEGER NOT NULL,"
	" tokens_reasoning INTEGER NOT NULL,"
	" cost_micro INTEGER,"
	" estimated INTEGER NOT NULL,"
	" ttfb_ms INTEGER,"
	" total_ms INTEGER NOT NULL,"
	" bytes_up INTEGER NOT NULL,"
	" bytes_down INTEGER NOT NULL,"
	" decision TEXT NOT NULL CHECK (decision IN ('none','allow','downgrade','block')),"
	" rule_index INTEGER,"
	" rule_group TEXT NOT NULL,"
	" rule_trace TEXT NOT NULL,"
	" error TEXT NOT NULL,"
	" leaked_keys INTEGER NOT NULL"
	");"
	"CREATE INDEX records_start ON records(start_ms);"
	"CREATE INDEX records_key ON records(key_fp);"
	/* Retained request/response bytes (off by default), cut to a cap; *_len = original size. */
	"CREATE TABLE payloads ("
	" record_id INTEGER PRIMARY KEY REFERENCES records(id),"
	" request BLOB,"
	" request_len INTEGER NOT NULL,"
	" response BLOB,"
	" response_len INTEGER NOT NULL"
	");"
	/* Key inventory, updated in the transaction that writes the records. */
	"CREATE TABLE keys ("
	" fingerprint TEXT PRIMARY KEY,"
	" provider TEXT NOT NULL,"
	" last4 TEXT NOT NULL,"
	" format TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('none','sanctioned','shadow')),"
	" first_seen_ms INTEGER NOT NULL,"
	" last_seen_ms INTEGER NOT NULL,"
	" requests INTEGER NOT NULL,"
	" spend_micro INTEGER NOT NULL,"
	" unpriced INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE key_usage ("
	" fingerprint TEXT NOT NULL REFERENCES keys(fingerprint),"
	" host TEXT NOT NULL,"
	" user TEXT NOT NULL,"
	" exe TEXT NOT NULL,"
	" requests INTEGER NOT NULL,"
	" first_seen_ms INTEGER NOT NULL,"
	" last_seen_ms INTEGER NOT NULL,"
	" PRIMARY KEY (fingerprint, host, user, exe)"
	") WITHOUT ROWID;";
/* clang-format on */

const struct ilog_migration ilog_migrations[] = {
    {1, ilog_schema_v1},
};
const size_t ilog_nmigrations = sizeof(ilog_migrations) / sizeof(ilog_migrations[0]);

_Static_assert(sizeof(ilog_migrations) / sizeof(ilog_migrations[0]) == ILOG_SCHEMA_VERSION,
	       "one migration step per schema version");

/* Reads one integer pragma (or the count of schema objects); -1 with <err> on failure. */
static long long ilog_schema_int(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_NOTADB)
		snprintf(err, errlen, "not an SQLite database");
	else
		snprintf(err, errlen, "reading the schema: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return v;
}

/* Checks application_id and reads user_version. Returns the version (0 = empty database ready to
 * be created), or a negative errno with <err>. */
static int ilog_schema_identify(sqlite3 *db, char *err, size_t errlen)
{
	long long app, ver, objects;

	app = ilog_schema_int(db, "PRAGMA application_id", err, errlen);
	if (app < 0)
		return -EIO;
	ver = ilog_schema_int(db, "PRAGMA user_version", err, errlen);
	if (ver < 0)
		return -EIO;
	if (app == 0 && ver == 0) {
		objects = ilog_schema_int(db, "SELECT count(*) FROM sqlite_schema", err, errlen);
		if (objects < 0)
			return -EIO;
		if (objects == 0)
			return 0;
	}
	if (app != ILOG_APPLICATION_ID) {
		snprintf(err, errlen,
			 "not a modelux intercept log (application_id 0x%08llx, user_version %lld)",
			 (unsigned long long)(uint32_t)app, ver);
		return -EPROTO;
	}
	if (ver > INT32_MAX)
		ver = INT32_MAX;
	return (int)ver;
}

static int ilog_schema_newer(int have, int known, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "intercept log schema version %d is newer than this build knows (%d); "
		 "refusing to open it: use a modelux at least as new as the one that wrote it",
		 have, known);
	return -ENOTSUP;
}

int ilog_schema_migrate(sqlite3 *db, const struct ilog_migration *steps, size_t nsteps, char *err,
			size_t errlen)
{
	char sql[96];
	char *msg = NULL;
	int have, last = (int)nsteps, rc;

	for (size_t i = 0; i < nsteps; i++) {
		if (steps[i].version != (int)i + 1 || !steps[i].sql) {
			snprintf(err, errlen, "migration list broken at entry %zu", i);
			return -EINVAL;
		}
	}
	/* IMMEDIATE: the check and the steps see one state, and a second writer waits or fails. */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		if (sqlite3_errcode(db) == SQLITE_NOTADB)
			snprintf(err, errlen, "not an SQLite database");
		else
			snprintf(err, errlen, "starting the schema transaction: %s",
				 sqlite3_errmsg(db));
		return -EIO;
	}
	have = ilog_schema_identify(db, err, errlen);
	if (have < 0)
		goto rollback;
	if (have > last) {
		rc = ilog_schema_newer(have, last, err, errlen);
		goto rollback_rc;
	}
	for (int v = have + 1; v <= last; v++) {
		if (sqlite3_exec(db, steps[v - 1].sql, NULL, NULL, &msg) != SQLITE_OK) {
			snprintf(err, errlen, "migrating the intercept log from v%d to v%d: %s",
				 v - 1, v, msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			have = -EIO;
			goto rollback;
		}
	}
	if (have < last) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 ILOG_APPLICATION_ID, last);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "setting the schema version: %s", sqlite3_errmsg(db));
			have = -EIO;
			goto rollback;
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "committing the schema: %s", sqlite3_errmsg(db));
		have = -EIO;
		goto rollback;
	}
	return 0;

rollback:
	rc = have;
rollback_rc:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int ilog_schema_peek(sqlite3 *db, int known, char *err, size_t errlen)
{
	int have = ilog_schema_identify(db, err, errlen);

	if (have > known)
		return ilog_schema_newer(have, known, err, errlen);
	return have;
}

int ilog_schema_check(sqlite3 *db, int version, char *err, size_t errlen)
{
	int have = ilog_schema_identify(db, err, errlen);

	if (have < 0)
		return have;
	if (have == 0) {
		snprintf(err, errlen, "empty database: no intercept log has been written yet");
		return -ENOENT;
	}
	if (have > version)
		return ilog_schema_newer(have, version, err, errlen);
	if (have < version) {
		snprintf(err, errlen,
			 "intercept log schema version %d is older than this build's (%d): "
			 "the agent migrates it when it next opens the log",
			 have, version);
		return -ENOTSUP;
	}
	return 0;
}
