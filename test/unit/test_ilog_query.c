/* test_ilog_query: the read side modeluxctl uses. Each filter alone and combined (provider, model
 * requested-or-served, key prefix with range edges, user, exe by path and by base name, time
 * window edges, decision, after_id), tail ordering (newest N, printed oldest first), bad filters,
 * early stop, reading while the writer is live; the key inventory's aggregation (counts, spend,
 * unpriced, first/last seen, state as last seen with out-of-order records, who used it) and its
 * filters; table and JSON output of hostile strings and of payloads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_ilog_util.h"

#define T0 1714565000000LL

struct fixture {
	struct ti_dir d;
	char k1[ILOG_FP_LEN], k2[ILOG_FP_LEN], k3[ILOG_FP_LEN];
	int64_t ids[7]; /* by seq */
};

static void add(struct ilog *log, unsigned seq, const char *provider, const char *req,
		const char *served, const char *user, const char *exe, const char *fp,
		enum ilog_decision dec)
{
	struct ilog_record r;

	ti_record(&r, 1, seq, T0 + (int64_t)(seq - 1) * 1000);
	ILOG_SET(&r, provider, provider);
	ILOG_SET(&r, model_requested, req);
	ILOG_SET(&r, model_served, served);
	ILOG_SET(&r, user, user);
	ILOG_SET(&r, exe, exe);
	if (fp) {
		ILOG_SET(&r, key_fp, fp);
		r.key_state = ILOG_KEY_SHADOW;
	}
	r.decision = dec;
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char err[256];
	struct ti_rows rows;
	struct ilog *log;

	ti_dir_make(&fx->d);
	ti_fp(fx->k1, 0xa1); /* "1a..." */
	ti_fp(fx->k2, 0xf2); /* "2f..." */
	ti_fp(fx->k3, 0x91); /* "19..." */
	log = ilog_open(fx->d.path, NULL, err, sizeof(err));
	assert_non_null(log);
	add(log, 1, "openai", "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "alice", "/usr/bin/python3",
	    fx->k1, ILOG_DECISION_ALLOW);
	add(log, 2, "anthropic", "claude-3-5-sonnet-latest", "claude-3-5-haiku-latest", "bob",
	    "/usr/local/bin/node", fx->k2, ILOG_DECISION_DOWNGRADE);
	add(log, 3, "openai", "gpt-4o", "gpt-4o", "alice", "/opt/x/python3-wrapper", NULL,
	    ILOG_DECISION_BLOCK);
	add(log, 4, "gemini", "gemini-1.5-flash", "gemini-1.5-flash", "carol", "/usr/bin/curl",
	    fx->k1, ILOG_DECISION_NONE);
	add(log, 5, "openai", "gpt-4o-mini", "gpt-4o-mini", "bob", "/home/bob/bin/python3", fx->k3,
	    ILOG_DECISION_ALLOW);
	add(log, 6, "anthropic", "claude-3-5-haiku-latest", "claude-3-5-haiku-latest", "alice",
	    "python3", fx->k2, ILOG_DECISION_ALLOW);
	assert_int_equal(ilog_close(log, NULL), 0);
	assert_int_equal(ti_query(fx->d.path, NULL, &rows), 0);
	assert_int_equal(rows.n, 6);
	for (size_t i = 0; i < rows.n; i++)
		fx->ids[rows.v[i].rec.seq] = rows.v[i].id;
	ti_rows_free(&rows);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	ti_dir_remove(&fx->d);
	free(fx);
	return 0;
}

/* The seqs ilog_query returns for <f>, as a string "1,3,5". */
static const char *seqs(const struct fixture *fx, const struct ilog_filter *f)
{
	static char out[128];
	struct ti_rows rows;
	size_t off = 0;

	out[0] = '\0';
	if (ti_query(fx->d.path, f, &rows) != 0)
		return "error";
	for (size_t i = 0; i < rows.n; i++)
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%" PRIu64, i ? "," : "",
					rows.v[i].rec.seq);
	ti_rows_free(&rows);
	return out;
}

static void each_filter(void **state)
{
	struct fixture *fx = *state;

	assert_string_equal(seqs(fx, &(struct ilog_filter){0}), "1,2,3,4,5,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.provider = "openai"}), "1,3,5");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.provider = "OpenAI"}), "");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.model = "claude-3-5-haiku-latest"}),
			    "2,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.model = "claude-3-5-sonnet-latest"}),
			    "2");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.key_prefix = "1"}), "1,4,5");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.key_prefix = "1A"}), "1,4");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.key_prefix = "19"}), "5");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.key_prefix = "2f"}), "2,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.key_prefix = fx->k2}), "2,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.key_prefix = "f"}), "");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.user = "alice"}), "1,3,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.exe = "python3"}), "1,5,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.exe = "/usr/bin/python3"}), "1");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.exe = "node"}), "2");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.exe = "thon3"}), "");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.exe = "bin/python3"}), "");
	assert_string_equal(
	    seqs(fx, &(struct ilog_filter){.since_ms = T0 + 1000, .until_ms = T0 + 4000}), "2,3,4");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.since_ms = T0 + 4001}), "6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.until_ms = T0 + 1}), "1");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.decision = "block"}), "3");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.decision = "none"}), "4");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.decision = "downgrade"}), "2");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.after_id = fx->ids[4]}), "5,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.provider = "openai", .user = "bob"}),
			    "5");
	assert_string_equal(
	    seqs(fx,
		 &(struct ilog_filter){.exe = "python3", .decision = "allow", .key_prefix = "1"}),
	    "1,5");
}

static void tail_is_newest_oldest_first(void **state)
{
	struct fixture *fx = *state;

	assert_string_equal(seqs(fx, &(struct ilog_filter){.limit = 2}), "5,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.limit = 1}), "6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.limit = 100}), "1,2,3,4,5,6");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.limit = 2, .provider = "openai"}),
			    "3,5");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.limit = 2, .until_ms = T0 + 3000}),
			    "2,3");
	assert_string_equal(seqs(fx, &(struct ilog_filter){.limit = 3, .with_payload = true}),
			    "4,5,6");
}

static int stop_after_first(void *ctx, const struct ilog_row *row)
{
	(*(int *)ctx)++;
	return 7;
}

static void bad_filters_and_early_stop(void **state)
{
	struct fixture *fx = *state;
	char err[256] = "";
	int calls = 0;

	assert_int_equal(ilog_query(fx->d.path, &(struct ilog_filter){.decision = "maybe"},
				    stop_after_first, &calls, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown decision 'maybe'"));
	assert_int_equal(ilog_query(fx->d.path, &(struct ilog_filter){.key_prefix = "sk-x"},
				    stop_after_first, &calls, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "hex"));
	assert_int_equal(ilog_query(fx->d.path, &(struct ilog_filter){.key_prefix = ""},
				    stop_after_first, &calls, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(calls, 0);
	assert_int_equal(ilog_query(fx->d.path, NULL, stop_after_first, &calls, err, sizeof(err)),
			 7);
	assert_int_equal(calls, 1);
	assert_int_equal(ilog_keys(fx->d.path, &(struct ilog_key_filter){.state = "rogue"}, NULL,
				   NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown key state"));
}

static void reads_while_the_writer_is_live(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	struct ilog_record r;
	struct ilog *log = ilog_open(fx->d.path, NULL, err, sizeof(err));
	int64_t last = fx->ids[6];

	assert_non_null(log);
	for (unsigned i = 0; i < 10; i++) {
		ti_record(&r, 2, i + 1, T0 + 10000 + i);
		assert_int_equal(ilog_submit(log, &r, NULL), 0);
	}
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	/* Following: only what is new since the last id seen. */
	assert_string_equal(seqs(fx, &(struct ilog_filter){.after_id = last}),
			    "1,2,3,4,5,6,7,8,9,10");
	ti_record(&r, 2, 11, T0 + 20000);
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
	assert_int_equal(ilog_flush_wait(log, 10000), 0);
	assert_string_equal(seqs(fx, &(struct ilog_filter){.limit = 1}), "11");
	assert_int_equal(ilog_close(log, NULL), 0);
}

/* ---- key inventory ---- */

struct keys_seen {
	int n;
	struct ilog_key_row k[4];
	struct ilog_key_usage u[4][4];
	char text[4][2048];
	char *json[4];
};

static int keys_cb(void *ctx, const struct ilog_key_row *k)
{
	struct keys_seen *s = ctx;
	json_t *j;

	if (s->n >= 4)
		return 1;
	s->k[s->n] = *k;
	for (size_t i = 0; i < k->nusage && i < 4; i++)
		s->u[s->n][i] = k->usage[i];
	s->k[s->n].usage = NULL;
	ilog_key_format(k, s->text[s->n], sizeof(s->text[0]));
	j = ilog_key_json(k);
	s->json[s->n] = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	s->n++;
	return 0;
}

static void keys_seen_free(struct keys_seen *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->json[i]);
	memset(s, 0, sizeof(*s));
}

static void key_rec(struct ilog *log, const char *fp, const char *host, const char *user,
		    const char *exe, int64_t start, int64_t cost, bool priced,
		    enum ilog_key_state st)
{
	struct ilog_record r;

	ti_record(&r, 4, (uint64_t)start, start);
	if (fp) {
		ILOG_SET(&r, key_fp, fp);
		ILOG_SET(&r, key_last4, st == ILOG_KEY_SHADOW ? "WXYZ" : "abcd");
		ILOG_SET(&r, key_format, "openai-proj");
	}
	ILOG_SET(&r, host, host);
	ILOG_SET(&r, user, user);
	ILOG_SET(&r, exe, exe);
	r.price_known = priced;
	r.cost_micro = cost;
	r.key_state = st;
	assert_int_equal(ilog_submit(log, &r, NULL), 0);
}

static int dir_setup(void **state)
{
	struct ti_dir *d = calloc(1, sizeof(*d));

	ti_dir_make(d);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	ti_dir_remove(*state);
	free(*state);
	return 0;
}

static void key_inventory_aggregates(void **state)
{
	struct ti_dir d = *(struct ti_dir *)*state;
	char err[256], k1[ILOG_FP_LEN], k2[ILOG_FP_LEN];
	struct keys_seen s = {0};
	struct ilog *log;

	ti_fp(k1, 0x31);
	ti_fp(k2, 0x42);
	/* Two sessions: aggregation across transactions as well as within one. */
	log = ilog_open(d.path, NULL, err, sizeof(err));
	assert_non_null(log);
	key_rec(log, k1, "h1", "alice", "/usr/bin/python3", T0, 100, true, ILOG_KEY_SANCTIONED);
	key_rec(log, k1, "h1", "alice", "/usr/bin/python3", T0 + 10, 50, true, ILOG_KEY_SANCTIONED);
	assert_int_equal(ilog_close(log, NULL), 0);
	log = ilog_open(d.path, NULL, err, sizeof(err));
	assert_non_null(log);
	/* Logged later but started earlier: counts, but does not change the state seen last. */
	key_rec(log, k1, "h2", "bob", "/usr/bin/curl", T0 + 5, 0, false, ILOG_KEY_SHADOW);
	key_rec(log, k2, "h1", "carol", "/bin/x", T0 + 20, 1, true, ILOG_KEY_SANCTIONED);
	key_rec(log, k2, "h1", "carol", "/bin/x", T0 + 30, 2, true, ILOG_KEY_SHADOW);
	key_rec(log, NULL, "h1", "dave", "/bin/y", T0 + 40, 5, true, ILOG_KEY_NONE);
	assert_int_equal(ilog_close(log, NULL), 0);

	assert_int_equal(ilog_keys(d.path, NULL, keys_cb, &s, err, sizeof(err)), 0);
	assert_int_equal(s.n, 2);
	/* Most recently seen first. */
	assert_string_equal(s.k[0].fingerprint, k2);
	assert_int_equal(s.k[0].state, ILOG_KEY_SHADOW);
	assert_string_equal(s.k[0].last4, "WXYZ");
	assert_int_equal(s.k[0].requests, 2);
	assert_int_equal(s.k[0].spend_micro, 3);
	assert_int_equal(s.k[0].unpriced, 0);
	assert_int_equal(s.k[0].first_seen_ms, T0 + 20);
	assert_int_equal(s.k[0].last_seen_ms, T0 + 30);
	assert_int_equal(s.k[0].nusage, 1);
	assert_int_equal(s.u[0][0].requests, 2);
	assert_string_equal(s.u[0][0].user, "carol");

	assert_string_equal(s.k[1].fingerprint, k1);
	assert_string_equal(s.k[1].provider, "openai");
	assert_string_equal(s.k[1].format, "openai-proj");
	assert_int_equal(s.k[1].state, ILOG_KEY_SANCTIONED);
	assert_string_equal(s.k[1].last4, "abcd");
	assert_int_equal(s.k[1].requests, 3);
	assert_int_equal(s.k[1].spend_micro, 150);
	assert_int_equal(s.k[1].unpriced, 1);
	assert_int_equal(s.k[1].first_seen_ms, T0);
	assert_int_equal(s.k[1].last_seen_ms, T0 + 10);
	assert_int_equal(s.k[1].nusage, 2);
	assert_string_equal(s.u[1][0].host, "h1");
	assert_string_equal(s.u[1][0].user, "alice");
	assert_string_equal(s.u[1][0].exe, "/usr/bin/python3");
	assert_int_equal(s.u[1][0].requests, 2);
	assert_int_equal(s.u[1][0].first_seen_ms, T0);
	assert_int_equal(s.u[1][0].last_seen_ms, T0 + 10);
	assert_string_equal(s.u[1][1].host, "h2");
	assert_string_equal(s.u[1][1].user, "bob");
	assert_int_equal(s.u[1][1].requests, 1);

	/* Table: the key line (16 digits of the fingerprint), then one line per user of it. */
	assert_memory_equal(s.text[1], k1, 16);
	assert_int_equal(s.text[1][16], ' ');
	assert_non_null(strstr(s.text[1], "sanctioned"));
	assert_non_null(strstr(s.text[1], "0.000150+"));
	assert_non_null(strstr(s.text[1], "\n    host=h1 user=alice exe=/usr/bin/python3 "
					  "requests=2 last_seen=2024-05-01T12:03:20.010Z"));
	assert_non_null(strstr(s.text[1], "\n    host=h2 user=bob exe=/usr/bin/curl requests=1"));
	assert_null(strchr(strchr(strchr(s.text[1], '\n') + 1, '\n') + 1, '\n'));
	/* JSON: everything, with the usage list. */
	assert_non_null(s.json[1]);
	assert_non_null(strstr(s.json[1], "\"requests\":3"));
	assert_non_null(strstr(s.json[1], "\"spend_micro\":150"));
	assert_non_null(strstr(s.json[1], "\"unpriced_requests\":1"));
	assert_non_null(strstr(s.json[1], "\"state\":\"sanctioned\""));
	assert_non_null(strstr(s.json[1], "\"first_seen\":\"2024-05-01T12:03:20.000Z\""));
	assert_non_null(strstr(s.json[1], "\"used_by\":[{\"exe\":\"/usr/bin/python3\","
					  "\"first_seen_ms\":1714565000000,\"host\":\"h1\","
					  "\"last_seen_ms\":1714565000010,\"requests\":2,"
					  "\"user\":\"alice\"},{"));
	keys_seen_free(&s);

	/* Filters. */
	assert_int_equal(ilog_keys(d.path, &(struct ilog_key_filter){.state = "sanctioned"},
				   keys_cb, &s, err, sizeof(err)),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.k[0].fingerprint, k1);
	keys_seen_free(&s);
	assert_int_equal(ilog_keys(d.path, &(struct ilog_key_filter){.since_ms = T0 + 25}, keys_cb,
				   &s, err, sizeof(err)),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.k[0].fingerprint, k2);
	keys_seen_free(&s);
	assert_int_equal(ilog_keys(d.path, &(struct ilog_key_filter){.key_prefix = "13"}, keys_cb,
				   &s, err, sizeof(err)),
			 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.k[0].fingerprint, k1);
	keys_seen_free(&s);
	assert_int_equal(ilog_keys(d.path, &(struct ilog_key_filter){.provider = "anthropic"},
				   keys_cb, &s, err, sizeof(err)),
			 0);
	assert_int_equal(s.n, 0);
}

struct many_seen {
	int rows, bad;
	int64_t usage_requests;
};

static int many_cb(void *ctx, const struct ilog_key_row *k)
{
	struct many_seen *m = ctx;

	m->rows++;
	if (k->requests != 3 || k->spend_micro != 30 || k->nusage != 2)
		m->bad++;
	for (size_t i = 0; i < k->nusage; i++)
		m->usage_requests += k->usage[i].requests;
	return 0;
}

/* More distinct keys (and key, user pairs) in one batch than the writer sums at once: the sums
 * are written out part-way and the counts stay exact. */
static void key_inventory_many_keys_in_one_batch(void **state)
{
	struct ti_dir d = *(struct ti_dir *)*state;
	struct many_seen m = {0};
	char err[256], fp[ILOG_FP_LEN];
	struct ilog *log = ilog_open(d.path, NULL, err, sizeof(err));

	assert_non_null(log);
	for (int rep = 0; rep < 3; rep++)
		for (unsigned k = 0; k < 40; k++) {
			ti_fp(fp, 0x100 + k);
			key_rec(log, fp, "h1", rep == 1 ? "bob" : "alice", "/bin/x",
				T0 + rep * 100 + k, 10, true, ILOG_KEY_SHADOW);
		}
	assert_int_equal(ilog_close(log, NULL), 0);
	assert_int_equal(ilog_keys(d.path, NULL, many_cb, &m, err, sizeof(err)), 0);
	assert_int_equal(m.rows, 40);
	assert_int_equal(m.bad, 0);
	assert_int_equal(m.usage_requests, 120);
}

/* ---- formatting ---- */

static void sample_row(struct ilog_row *row)
{
	struct ilog_record *r = &row->rec;

	memset(row, 0, sizeof(*row));
	ti_record(r, 1, 1, T0);
	row->id = 42;
	r->price_known = true;
	r->cost_micro = 1234;
	r->tokens_in = 1500;
	r->tokens_out = 25;
	r->ttfb_ms = 85;
	r->decision = ILOG_DECISION_DOWNGRADE;
	ILOG_SET(r, model_requested, "gpt-4o");
	ILOG_SET(r, model_served, "gpt-4o-mini");
	ti_fp(r->key_fp, 0xa1);
	r->key_state = ILOG_KEY_SHADOW;
}

/* Code points before the first occurrence of <needle> in <s>. */
static long column_of(const char *s, const char *needle)
{
	const char *p = strstr(s, needle);
	long n = 0;

	if (!p)
		return -1;
	for (const char *q = s; q < p; q++)
		n += ((unsigned char)*q & 0xc0) != 0x80;
	return n;
}

static void table_rows(void **state)
{
	struct ilog_row row, row2;
	char head[512], line[1024], line2[1024];
	size_t n;

	n = ilog_row_header(head, sizeof(head));
	assert_int_equal(n, strlen(head));
	assert_non_null(strstr(head, "PROVIDER"));
	assert_null(strchr(head, '\n'));

	sample_row(&row);
	n = ilog_row_format(&row, line, sizeof(line));
	assert_int_equal(n, strlen(line));
	assert_non_null(strstr(line, "2024-05-01T12:03:20.000Z"));
	assert_non_null(strstr(line, "gpt-4o>gpt-4o-mini"));
	assert_non_null(strstr(line, " 0.001234 "));
	assert_non_null(strstr(line, "downgrade"));
	assert_non_null(strstr(line, "shadow:1a"));
	assert_non_null(strstr(line, " python3.11"));
	/* Columns line up with the header. */
	assert_int_equal(column_of(line, "openai"), column_of(head, "PROVIDER"));
	assert_int_equal(column_of(line, "downgrade"), column_of(head, "DECISION"));

	/* Hostile and unusual values: no control byte gets out, cells keep their width. */
	sample_row(&row2);
	row2.rec.price_known = false;
	row2.rec.estimated = true;
	row2.rec.ttfb_ms = -1;
	row2.rec.key_fp[0] = '\0';
	row2.rec.stream = true;
	row2.rec.leaked_keys = 2;
	ILOG_SET(&row2.rec, user, "zo\xc3\xab\xff\x1b[31m");
	ILOG_SET(&row2.rec, exe, "/tmp/evil\nname\r");
	ILOG_SET(&row2.rec, model_served, "a-model-name-much-longer-than-the-column-is-wide");
	ILOG_SET(&row2.rec, model_requested, "");
	ILOG_SET(&row2.rec, error, "tls\x07");
	n = ilog_row_format(&row2, line2, sizeof(line2));
	assert_int_equal(n, strlen(line2));
	for (const char *p = line2; *p; p++)
		assert_false((unsigned char)*p < 0x20 || *p == 0x7f);
	assert_non_null(strstr(line2, "zo\xc3\xab??[31m"));
	assert_non_null(strstr(line2, "evil?name?"));
	assert_non_null(strstr(line2, "a-model-name-much-longer-th~ "));
	assert_non_null(strstr(line2, "           ?~"));
	assert_non_null(strstr(line2, " stream leaked_keys=2 error=tls?"));
	assert_int_equal(column_of(line2, "downgrade"), column_of(head, "DECISION"));
	assert_int_equal(column_of(line2, " - "), column_of(line, " 85 ") + 1);

	/* Truncation to a small buffer stays terminated. */
	n = ilog_row_format(&row, line, 20);
	assert_true(n < 20);
	assert_int_equal(strlen(line), n);
	assert_int_equal(ilog_row_format(&row, line, 0), 0);
}

static void json_rows(void **state)
{
	static const unsigned char resp[] = {0xff, 0x00, 0x01};
	struct ilog_row row;
	json_t *j, *back;
	json_error_t je;
	char *s;

	sample_row(&row);
	ILOG_SET(&row.rec, user,
		 "b\xff"
		 "ob");
	row.rec.pid = 0;
	row.has_payload = true;
	row.request = "hello";
	row.request_stored = 5;
	row.request_len = 9000;
	row.response = resp;
	row.response_stored = sizeof(resp);
	row.response_len = sizeof(resp);
	j = ilog_row_json(&row);
	assert_non_null(j);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(s);
	back = json_loads(s, 0, &je);
	free(s);
	assert_non_null(back);
	assert_int_equal(json_integer_value(json_object_get(back, "id")), 42);
	assert_string_equal(json_string_value(json_object_get(back, "user")), "b\xef\xbf\xbdob");
	assert_string_equal(json_string_value(json_object_get(back, "time")),
			    "2024-05-01T12:03:20.000Z");
	assert_true(json_is_null(json_object_get(back, "pid")));
	assert_true(json_is_null(json_object_get(back, "uid")));
	assert_true(json_is_null(json_object_get(back, "error")));
	assert_int_equal(json_integer_value(json_object_get(back, "cost_micro")), 1234);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(back, "tokens"), "in")),
			 1500);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(back, "key"), "state")), "shadow");
	assert_true(json_is_null(json_object_get(json_object_get(back, "rule"), "index")));
	{
		json_t *p = json_object_get(back, "payload");
		json_t *rq = json_object_get(p, "request"), *rs = json_object_get(p, "response");

		assert_string_equal(json_string_value(json_object_get(rq, "text")), "hello");
		assert_int_equal(json_integer_value(json_object_get(rq, "len")), 9000);
		assert_int_equal(json_integer_value(json_object_get(rq, "stored")), 5);
		assert_string_equal(json_string_value(json_object_get(rs, "base64")), "/wAB");
		assert_null(json_object_get(rs, "text"));
	}
	json_decref(back);

	/* Unknowns are null; no key, no payload. */
	sample_row(&row);
	row.rec.price_known = false;
	row.rec.ttfb_ms = -1;
	row.rec.key_fp[0] = '\0';
	j = ilog_row_json(&row);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "cost_micro")));
	assert_true(json_is_false(json_object_get(j, "price_known")));
	assert_true(json_is_null(json_object_get(j, "ttfb_ms")));
	assert_true(json_is_null(json_object_get(j, "key")));
	assert_null(json_object_get(j, "payload"));
	json_decref(j);
}

static void enum_names(void **state)
{
	enum ilog_decision d;
	enum ilog_key_state k;

	for (int i = ILOG_DECISION_NONE; i <= ILOG_DECISION_BLOCK; i++) {
		assert_true(ilog_decision_parse(ilog_decision_name((enum ilog_decision)i), &d));
		assert_int_equal(d, i);
	}
	for (int i = ILOG_KEY_NONE; i <= ILOG_KEY_SHADOW; i++) {
		assert_true(ilog_key_state_parse(ilog_key_state_name((enum ilog_key_state)i), &k));
		assert_int_equal(k, i);
	}
	assert_false(ilog_decision_parse("Allow", &d));
	assert_false(ilog_decision_parse(NULL, &d));
	assert_false(ilog_key_state_parse("", &k));
	assert_string_equal(ilog_decision_name((enum ilog_decision)9), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(each_filter, setup, teardown),
	    cmocka_unit_test_setup_teardown(tail_is_newest_oldest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_filters_and_early_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(reads_while_the_writer_is_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(key_inventory_aggregates, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(key_inventory_many_keys_in_one_batch, dir_setup,
					    dir_teardown),
	    cmocka_unit_test(table_rows),
	    cmocka_unit_test(json_rows),
	    cmocka_unit_test(enum_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
