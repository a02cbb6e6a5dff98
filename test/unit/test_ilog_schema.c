/* test_ilog_schema: schema versioning. A new file is created at v1 (application_id, WAL); an
 * existing log is reopened and appended to; a newer version, a foreign SQLite file and a file that
 * is not SQLite are refused by the writer and the reader with a clear message and left untouched;
 * an older log is migrated in one transaction (exercised with a v2 step list), and a failing step
 * leaves the file exactly at its old version. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "ilog_int.h"
#include "test_ilog_util.h"

static int setup(void **state)
{
	struct ti_dir *d = calloc(1, sizeof(*d));

	ti_dir_make(d);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	ti_dir_remove(*state);
	free(*state);
	return 0;
}

static void write_records(const char *path, unsigned from, unsigned n)
{
	char err[512] = "";
	struct ilog_record r;
	struct ilog *log = ilog_open(path, NULL, err, sizeof(err));

	if (!log)
		fail_msg("ilog_open: %s", err);
	for (unsigned i = 0; i < n; i++) {
		ti_record(&r, 1, from + i, 1000 + from + i);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
	}
	assert_int_equal(ilog_close(log, NULL), 0);
}

static void creates_v1(void **state)
{
	struct ti_dir *d = *state;
	char mode[16];

	write_records(d->path, 1, 1);
	assert_int_equal(ti_sql_int(d->path, "PRAGMA user_version"), ILOG_SCHEMA_VERSION);
	assert_int_equal(ILOG_SCHEMA_VERSION, 1);
	assert_int_equal(ti_sql_int(d->path, "PRAGMA application_id"), ILOG_APPLICATION_ID);
	assert_true(ti_sql_text(d->path, "PRAGMA journal_mode", mode, sizeof(mode)));
	assert_string_equal(mode, "wal");
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM sqlite_schema WHERE type ="
					     " 'table' AND name IN ('records', 'payloads', 'keys',"
					     " 'key_usage')"),
			 4);
}

static void reopens_existing(void **state)
{
	struct ti_dir *d = *state;
	struct ti_rows rows;

	write_records(d->path, 1, 3);
	write_records(d->path, 4, 2);
	assert_int_equal(ti_query(d->path, NULL, &rows), 0);
	assert_int_equal(rows.n, 5);
	for (size_t i = 0; i < rows.n; i++)
		assert_int_equal(rows.v[i].rec.seq, i + 1);
	ti_rows_free(&rows);
	assert_int_equal(ti_sql_int(d->path, "PRAGMA user_version"), 1);
}

static int never_called(void *ctx, const struct ilog_row *row)
{
	fail_msg("no row expected");
	return 0;
}

static void refuses_newer(void **state)
{
	struct ti_dir *d = *state;
	char err[512] = "";
	struct stat before, after;

	write_records(d->path, 1, 2);
	assert_true(ti_sql_exec(d->path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 2"));
	assert_int_equal(stat(d->path, &before), 0);

	assert_null(ilog_open(d->path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "version 2 is newer"));
	assert_non_null(strstr(err, d->path));
	/* Untouched: still version 2, not switched to WAL, same bytes. */
	assert_int_equal(ti_sql_int(d->path, "PRAGMA user_version"), 2);
	assert_int_equal(stat(d->path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	{
		char mode[16];

		assert_true(ti_sql_text(d->path, "PRAGMA journal_mode", mode, sizeof(mode)));
		assert_string_equal(mode, "delete");
	}
	err[0] = '\0';
	assert_int_equal(ilog_query(d->path, NULL, never_called, NULL, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "newer"));
}

static void refuses_foreign_and_garbage(void **state)
{
	struct ti_dir *d = *state;
	char err[512] = "", path[160];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/other.db", d->dir);
	assert_true(ti_sql_exec(path, "CREATE TABLE budgets (x); INSERT INTO budgets VALUES (1)"));
	assert_null(ilog_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not a modelux intercept log"));
	assert_int_equal(ti_sql_int(path, "SELECT count(*) FROM budgets"), 1);
	assert_int_equal(ilog_query(path, NULL, never_called, NULL, err, sizeof(err)), -EPROTO);

	assert_true(ti_sql_exec(path, "PRAGMA application_id = 1234"));
	assert_null(ilog_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "application_id 0x000004d2"));

	snprintf(path, sizeof(path), "%s/garbage.db", d->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 300; i++)
		fputs("this is not a database file, it is a text file. ", fp);
	fclose(fp);
	assert_null(ilog_open(path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not an SQLite database"));
	assert_int_equal(ilog_query(path, NULL, never_called, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "not an SQLite database"));

	snprintf(path, sizeof(path), "%s/missing.db", d->dir);
	assert_int_equal(ilog_query(path, NULL, never_called, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(ilog_keys(path, NULL, NULL, NULL, err, sizeof(err)), -ENOENT);
}

/* A future v2, to show an existing v1 file migrates in place. */
static const char v2_sql[] = "ALTER TABLE records ADD COLUMN region TEXT NOT NULL DEFAULT '';"
			     "CREATE INDEX records_region ON records(region);";

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	return db;
}

static void migrates_older_in_one_transaction(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_migration steps[2] = {ilog_migrations[0], {2, v2_sql}};
	char err[512] = "";
	sqlite3 *db;

	write_records(d->path, 1, 4);
	db = raw_open(d->path);
	assert_int_equal(ilog_schema_migrate(db, steps, 2, err, sizeof(err)), 0);
	sqlite3_close(db);
	assert_int_equal(ti_sql_int(d->path, "PRAGMA user_version"), 2);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records WHERE region = ''"), 4);
	/* Already current: nothing to do, still fine. */
	db = raw_open(d->path);
	assert_int_equal(ilog_schema_migrate(db, steps, 2, err, sizeof(err)), 0);
	/* And this build (v1) now refuses it. */
	assert_int_equal(
	    ilog_schema_migrate(db, ilog_migrations, ilog_nmigrations, err, sizeof(err)), -ENOTSUP);
	sqlite3_close(db);

	/* A fresh file runs both steps. */
	{
		char path[160];

		snprintf(path, sizeof(path), "%s/fresh.db", d->dir);
		db = NULL;
		assert_int_equal(
		    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
		    SQLITE_OK);
		assert_int_equal(ilog_schema_migrate(db, steps, 2, err, sizeof(err)), 0);
		sqlite3_close(db);
		assert_int_equal(ti_sql_int(path, "PRAGMA user_version"), 2);
		assert_int_equal(ti_sql_int(path, "SELECT count(*) FROM sqlite_schema WHERE name ="
						  " 'records_region'"),
				 1);
	}
}

static void failed_migration_leaves_old_version(void **state)
{
	struct ti_dir *d = *state;
	struct ilog_migration steps[2] = {
	    ilog_migrations[0],
	    {2, "CREATE TABLE half_done (x); INSERT INTO no_such_table VALUES (1);"},
	};
	struct ilog_migration broken[2] = {ilog_migrations[0], {3, v2_sql}};
	char err[512] = "";
	sqlite3 *db;

	write_records(d->path, 1, 2);
	db = raw_open(d->path);
	assert_int_equal(ilog_schema_migrate(db, steps, 2, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "from v1 to v2"));
	assert_non_null(strstr(err, "no_such_table"));
	assert_int_equal(ilog_schema_migrate(db, broken, 2, err, sizeof(err)), -EINVAL);
	sqlite3_close(db);
	assert_int_equal(ti_sql_int(d->path, "PRAGMA user_version"), 1);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM sqlite_schema WHERE name ="
					     " 'half_done'"),
			 0);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), 2);
	/* This build still opens it. */
	write_records(d->path, 3, 1);
	assert_int_equal(ti_sql_int(d->path, "SELECT count(*) FROM records"), 3);
}

static void reader_refuses_empty_and_older(void **state)
{
	struct ti_dir *d = *state;
	char err[512] = "", path[160];

	snprintf(path, sizeof(path), "%s/empty.db", d->dir);
	assert_true(ti_sql_exec(path, "PRAGMA user_version = 0"));
	assert_int_equal(ilog_query(path, NULL, never_called, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no intercept log"));

	write_records(d->path, 1, 1);
	/* A reader built for v2 meeting this v1 log says the agent will migrate it. */
	{
		sqlite3 *db = raw_open(d->path);

		assert_int_equal(ilog_schema_check(db, 2, err, sizeof(err)), -ENOTSUP);
		assert_non_null(strstr(err, "older"));
		assert_int_equal(ilog_schema_check(db, 1, err, sizeof(err)), 0);
		sqlite3_close(db);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(creates_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(reopens_existing, setup, teardown),
	    cmocka_unit_test_setup_teardown(refuses_newer, setup, teardown),
	    cmocka_unit_test_setup_teardown(refuses_foreign_and_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(migrates_older_in_one_transaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(failed_migration_leaves_old_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(reader_refuses_empty_and_older, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
