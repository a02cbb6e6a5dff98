/* test_sens_corpus: precision and recall of the sensitivity detectors on the labelled corpus
 * test/sens/corpus/ (request bodies written by test/sens/gen_corpus.py, labels in its MANIFEST),
 * per kind, both per sample (does the body contain the kind?) and per occurrence (how many);
 * fails if any kind's precision is below 0.97 or recall below 0.95. Also prints the scan
 * throughput on 64 KiB and 1 MiB bodies (a measurement, not an assertion).
 * Run from the repository root; SENS_CORPUS_DIR overrides the corpus directory. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sens.h"

#define MIN_PRECISION 0.97
#define MIN_RECALL 0.95
#define MAX_BODY (4u << 20)

static const char *corpus_dir(void)
{
	const char *d = getenv("SENS_CORPUS_DIR");

	return d && *d ? d : "test/sens/corpus";
}

/* Reads <path> into a malloc'd buffer without its DEL bytes (the corpus hides its made-up
 * secrets from secret scanners with one DEL inside each). */
static char *read_body(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n, out = 0;

	assert_non_null(f);
	buf = malloc(MAX_BODY);
	assert_non_null(buf);
	n = fread(buf, 1, MAX_BODY, f);
	assert_true(n < MAX_BODY);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != 0x7f)
			buf[out++] = buf[i];
	}
	*len = out;
	return buf;
}

static int kind_slot(const char *name, size_t n)
{
	for (unsigned i = 0; i < SENS_NKINDS; i++) {
		const char *k = sens_kind_name((enum sens_kind)(1u << i));

		if (strlen(k) == n && memcmp(k, name, n) == 0)
			return (int)i;
	}
	return -1;
}

static int secret_slot(const char *name, size_t n)
{
	for (unsigned i = 0; i < SENS_NSECRETS; i++) {
		const char *k = sens_secret_name((enum sens_secret)(1u << i));

		if (strlen(k) == n && memcmp(k, name, n) == 0)
			return (int)i;
	}
	return -1;
}

struct label {
	char file[128];
	uint32_t count[SENS_NKINDS];
	uint32_t secrets;
};

/* "<file> kind=n,kind=n|- type+type|-" */
static void parse_label(const char *line, struct label *l)
{
	char kinds[256], secrets[256];

	memset(l, 0, sizeof(*l));
	assert_int_equal(sscanf(line, "%127s %255s %255s", l->file, kinds, secrets), 3);
	if (strcmp(kinds, "-") != 0) {
		for (char *tok = strtok(kinds, ","); tok; tok = strtok(NULL, ",")) {
			char *eq = strchr(tok, '=');
			int k;

			assert_non_null(eq);
			k = kind_slot(tok, (size_t)(eq - tok));
			assert_true(k >= 0);
			l->count[k] = (uint32_t)atoi(eq + 1);
		}
	}
	if (strcmp(secrets, "-") != 0) {
		for (char *tok = strtok(secrets, "+"); tok; tok = strtok(NULL, "+")) {
			int k = secret_slot(tok, strlen(tok));

			assert_true(k >= 0);
			l->secrets |= 1u << k;
		}
	}
}

struct stat_row {
	unsigned tp, fp, fn;
};

static double ratio(unsigned a, unsigned b)
{
	return b ? (double)a / b : 1.0;
}

static void print_row(const char *name, const struct stat_row *samples, const struct stat_row *occ)
{
	printf("  %-13s | %4u %3u %3u  P %.3f  R %.3f |", name, samples->tp, samples->fp,
	       samples->fn, ratio(samples->tp, samples->tp + samples->fp),
	       ratio(samples->tp, samples->tp + samples->fn));
	if (occ)
		printf(" %4u %3u %3u  P %.3f  R %.3f", occ->tp, occ->fp, occ->fn,
		       ratio(occ->tp, occ->tp + occ->fp), ratio(occ->tp, occ->tp + occ->fn));
	printf("\n");
}

static void test_corpus_precision_recall(void **state)
{
	struct stat_row by_sample[SENS_NKINDS] = { 0 }, by_occ[SENS_NKINDS] = { 0 };
	struct stat_row by_secret[SENS_NSECRETS] = { 0 };
	struct sens_db *db;
	struct sens_scratch *scr;
	char path[512], line[512], err[256];
	unsigned nfiles = 0, mislabelled = 0;
	bool ok = true;
	FILE *m;

	(void)state;
	assert_int_equal(sens_db_new(&db, err, sizeof(err)), 0);
	assert_int_equal(sens_scratch_new(db, &scr, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/MANIFEST", corpus_dir());
	m = fopen(path, "r");
	assert_non_null(m);
	while (fgets(line, sizeof(line), m)) {
		struct sens_report r;
		struct label l;
		size_t len;
		char *body;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		parse_label(line, &l);
		snprintf(path, sizeof(path), "%s/%s", corpus_dir(), l.file);
		body = read_body(path, &len);
		assert_int_equal(sens_scan(db, scr, SENS_ALL_MASK, body, len, &r), 0);
		free(body);
		nfiles++;
		for (unsigned k = 0; k < SENS_NKINDS; k++) {
			uint32_t want = l.count[k], got = r.count[k];

			by_sample[k].tp += want && got;
			by_sample[k].fp += !want && got;
			by_sample[k].fn += want && !got;
			by_occ[k].tp += want < got ? want : got;
			by_occ[k].fp += got > want ? got - want : 0;
			by_occ[k].fn += want > got ? want - got : 0;
			if (want != got) {
				mislabelled++;
				printf("  mismatch %s: %s expected %u, found %u\n", l.file,
				       sens_kind_name((enum sens_kind)(1u << k)), want, got);
			}
		}
		for (unsigned k = 0; k < SENS_NSECRETS; k++) {
			bool want = l.secrets & (1u << k), got = r.secrets & (1u << k);

			by_secret[k].tp += want && got;
			by_secret[k].fp += !want && got;
			by_secret[k].fn += want && !got;
			if (want != got)
				printf("  mismatch %s: secret %s expected %d, found %d\n", l.file,
				       sens_secret_name((enum sens_secret)(1u << k)), want, got);
		}
	}
	fclose(m);
	printf("sens corpus: %u bodies, %u kind-count mismatches\n", nfiles, mislabelled);
	printf("  %-13s | %-30s | %s\n", "kind", "samples: TP  FP  FN  prec  recall",
	       "occurrences: TP  FP  FN  prec  recall");
	for (unsigned k = 0; k < SENS_NKINDS; k++) {
		const char *name = sens_kind_name((enum sens_kind)(1u << k));

		print_row(name, &by_sample[k], &by_occ[k]);
		if (ratio(by_sample[k].tp, by_sample[k].tp + by_sample[k].fp) < MIN_PRECISION ||
		    ratio(by_sample[k].tp, by_sample[k].tp + by_sample[k].fn) < MIN_RECALL ||
		    ratio(by_occ[k].tp, by_occ[k].tp + by_occ[k].fp) < MIN_PRECISION ||
		    ratio(by_occ[k].tp, by_occ[k].tp + by_occ[k].fn) < MIN_RECALL) {
			printf("  ^ %s is below P %.2f / R %.2f\n", name, MIN_PRECISION, MIN_RECALL);
			ok = false;
		}
	}
	printf("  secret types (samples):\n");
	for (unsigned k = 0; k < SENS_NSECRETS; k++)
		print_row(sens_secret_name((enum sens_secret)(1u << k)), &by_secret[k], NULL);
	assert_true(nfiles >= 400);
	assert_true(ok);
	sens_scratch_free(scr);
	sens_db_free(db);
}

/* ---- throughput ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A JSON array of corpus bodies, cut at <size> bytes: realistic prompts and structure. */
static char *corpus_body(size_t size)
{
	char *out = malloc(size), path[512], line[512];
	size_t n = 1;
	FILE *m;

	assert_non_null(out);
	out[0] = '[';
	snprintf(path, sizeof(path), "%s/MANIFEST", corpus_dir());
	m = fopen(path, "r");
	assert_non_null(m);
	while (n < size) {
		char file[128];
		size_t len;
		char *body;

		if (!fgets(line, sizeof(line), m)) {
			rewind(m);
			continue;
		}
		if (line[0] == '#' || sscanf(line, "%127s", file) != 1 || strstr(file, "image"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus_dir(), file);
		body = read_body(path, &len);
		if (len > size - n - 1)
			len = size - n - 1;
		memcpy(out + n, body, len);
		n += len;
		if (n < size)
			out[n++] = ',';
		free(body);
	}
	fclose(m);
	return out;
}

/* One message carrying a base64 image: the bulk of a multimodal request. */
static char *image_body(size_t size)
{
	static const char head[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":"
				   "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;"
				   "base64,";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(size);
	uint64_t x = 0x2545f4914f6cdd1dull;

	assert_non_null(out);
	memcpy(out, head, sizeof(head) - 1);
	for (size_t i = sizeof(head) - 1; i < size - 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = b64[x & 63];
	}
	memcpy(out + size - 8, "\"}}]}]}", 8);
	return out;
}

static void measure(struct sens_db *db, struct sens_scratch *scr, const char *what, char *body,
		    size_t size)
{
	struct sens_report r;
	unsigned iters = 0;
	double t0 = now_s(), t;

	do {
		assert_int_equal(sens_scan(db, scr, SENS_ALL_MASK, body, size, &r), 0);
		iters++;
		t = now_s() - t0;
	} while (t < 0.25 || iters < 3);
	printf("  %-28s %8zu bytes: %8.1f MB/s (%u scans, %s)\n", what, size,
	       (double)size * iters / t / 1e6, iters, sens_level(&r));
	free(body);
}

static void test_throughput(void **state)
{
	struct sens_db *db;
	struct sens_scratch *scr;
	char err[256];

	(void)state;
	assert_int_equal(sens_db_new(&db, err, sizeof(err)), 0);
	assert_int_equal(sens_scratch_new(db, &scr, err, sizeof(err)), 0);
	printf("sens throughput (all detectors, one thread):\n");
	measure(db, scr, "corpus prompts, 64 KiB", corpus_body(64 << 10), 64 << 10);
	measure(db, scr, "corpus prompts, 1 MiB", corpus_body(1 << 20), 1 << 20);
	measure(db, scr, "base64 image, 64 KiB", image_body(64 << 10), 64 << 10);
	measure(db, scr, "base64 image, 1 MiB", image_body(1 << 20), 1 << 20);
	sens_scratch_free(scr);
	sens_db_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_precision_recall),
		cmocka_unit_test(test_throughput),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
