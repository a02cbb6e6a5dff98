/* mint_bench: what a new SNI costs through the real forked signer, and what a cached lookup
 * costs. Build and run (from the repository root):
 *
 *   gcc -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -Iuserspace \
 *       bench/mint_bench.c userspace/certmint.c userspace/casign.c userspace/casign_signer.c -lssl
 * -lcrypto -lpthread \ -o build/mint_bench && build/mint_bench
 *
 * First line, for `make bench`:
 *   mint_us_mean=.. mint_us_p99=.. cached_ns_mean=.. mint_us_p50=..
 * then a breakdown (signer round trip including the d2i_X509 of the answer, d2i_X509 and
 * SSL_CTX_new alone) and throughput from 4 threads: signing over 1 channel and over 4, and
 * minting through certmint. Options: -n NAMES (2000), -c CACHED_LOOKUPS (200000).
 * -DCERTMINT_CHANNELS=N builds certmint with N channels instead of one per CPU.
 *
 * Measured on the 2-vCPU KVM guest (AMD EPYC, OpenSSL 3.0.19) this was written on, quiet runs:
 *   mint_us_mean=310-330 mint_us_p99=450 cached_ns_mean=85
 *   d2i_X509 ~115 us and SSL_CTX_new ~95 us per call: OpenSSL 3.0 builds a decoder chain for
 *   the certificate's public key on every parse, and fetches every algorithm for every context.
 *   The signer spends ~60 us per leaf (~25 us of it the P-256 signature); a socketpair round
 *   trip between two idle vCPUs costs ~55 us here (~10 us on one CPU).
 *   Overlapping SSL_CTX_new with the signature took the mean from ~450 to ~300 us.
 *   mint_per_s_4threads: 1 channel ~2800, one per CPU (2) ~3500, 4 ~3900. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "casign.h"
#include "certmint.h"

#define THREADS 4

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct mint_job {
	struct certmint *m;
	int count;
	int idx;
	int failures;
};

static void *mint_thread(void *arg)
{
	struct mint_job *j = arg;
	char name[64], err[256];
	int i;

	for (i = 0; i < j->count; i++) {
		X509 *leaf;

		snprintf(name, sizeof(name), "m%d-%d.thr.example.com", j->idx, i);
		leaf = certmint_get(j->m, name, err, sizeof(err));
		if (!leaf)
			j->failures++;
		X509_free(leaf);
	}
	return NULL;
}

/* mint_rate - new names minted per second by THREADS threads at once. */
static double mint_rate(struct certmint *m, int per)
{
	struct mint_job jobs[THREADS];
	pthread_t t[THREADS];
	uint64_t t0 = now_ns();
	int i, fail = 0;

	for (i = 0; i < THREADS; i++) {
		jobs[i] = (struct mint_job){m, per, i, 0};
		pthread_create(&t[i], NULL, mint_thread, &jobs[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		fail += jobs[i].failures;
	}
	if (fail)
		fprintf(stderr, "mint_bench: %d mint failures\n", fail);
	return (double)(THREADS * per) * 1e9 / (double)(now_ns() - t0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	ok = ex && X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

/* make_ca - a P-256 CA in <dir>, made in a forked child like the real tool would: the bench
 * process never holds the CA key either. */
static int make_ca(const char *crt, const char *key)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		EVP_PKEY *pk = EVP_EC_gen("P-256");
		X509 *x = X509_new();
		X509_NAME *n = X509_get_subject_name(x);
		int fd, ok;
		FILE *f;

		ok =
		    pk && X509_set_version(x, X509_VERSION_3) &&
		    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
		    X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
		    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) &&
		    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					       (const unsigned char *)"mint_bench CA", -1, -1, 0) &&
		    X509_set_issuer_name(x, n) && X509_set_pubkey(x, pk) &&
		    add_ext(x, NID_basic_constraints, "critical,CA:TRUE") &&
		    add_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		    add_ext(x, NID_subject_key_identifier, "hash") &&
		    X509_sign(x, pk, EVP_sha256()) > 0;
		f = ok ? fopen(crt, "w") : NULL;
		if (!f || !PEM_write_X509(f, x) || fclose(f))
			_exit(1);
		fd = open(key, O_WRONLY | O_CREAT | O_EXCL, 0600);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f || !PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) || fclose(f))
			_exit(1);
		_exit(0);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

struct sign_job {
	struct casign *cs;
	const unsigned char *spki;
	size_t spki_len;
	int count;
	int failures;
	int idx;
};

static void *sign_thread(void *arg)
{
	struct sign_job *j = arg;
	char name[64], err[256];
	int i;

	for (i = 0; i < j->count; i++) {
		X509 *x;

		struct casign_req req = {name, j->spki, j->spki_len, 0, NULL};

		snprintf(name, sizeof(name), "t%d-%d.thr.example.com", j->idx, i);
		if (casign_sign(j->cs, &req, &x, err, sizeof(err)) < 0)
			j->failures++;
		X509_free(x);
	}
	return NULL;
}

/* sign_rate - certificates per second from THREADS threads sharing <cs>. */
static double sign_rate(struct casign *cs, const unsigned char *spki, size_t spki_len, int per)
{
	struct sign_job jobs[THREADS];
	pthread_t t[THREADS];
	uint64_t t0 = now_ns();
	int i, fail = 0;

	for (i = 0; i < THREADS; i++) {
		jobs[i] = (struct sign_job){cs, spki, spki_len, per, 0, i};
		pthread_create(&t[i], NULL, sign_thread, &jobs[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		fail += jobs[i].failures;
	}
	if (fail)
		fprintf(stderr, "mint_bench: %d signing failures\n", fail);
	return (double)(THREADS * per) * 1e9 / (double)(now_ns() - t0);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/mint_bench.XXXXXX", crt[64], key[64], name[64], err[512], cmd[96];
	int nnames = 2000, ncached = 200000, i, opt, spki_len;
	struct casign *cs1, *cs2;
	struct certmint *m;
	struct certmint_stats st;
	uint64_t *t, total = 0, t0, sign_total = 0, d2i_total = 0, ssl_total = 0;
	double rate1, rate4;
	unsigned char *spki = NULL, *der = NULL;
	EVP_PKEY *leaf_key;
	X509 *x, *leaf;
	SSL *ssl;
	int der_len = 0;

	while ((opt = getopt(argc, argv, "n:c:")) != -1) {
		if (opt == 'n')
			nnames = atoi(optarg);
		else if (opt == 'c')
			ncached = atoi(optarg);
		else
			return 2;
	}
	if (nnames < 100 || ncached < 1)
		return 2;
	if (!mkdtemp(dir))
		return 1;
	snprintf(crt, sizeof(crt), "%s/ca.crt", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	if (make_ca(crt, key) < 0) {
		fprintf(stderr, "mint_bench: cannot make a CA in %s\n", dir);
		return 1;
	}

	/* Every signer forks now, before the bench starts any thread. */
	m = certmint_new(crt, key, (unsigned)nnames + 64, err, sizeof(err));
	if (!m || casign_start(&cs1, crt, key, 1, err, sizeof(err)) < 0 ||
	    casign_start(&cs2, crt, key, THREADS, err, sizeof(err)) < 0) {
		fprintf(stderr, "mint_bench: %s\n", err);
		return 1;
	}
	t = calloc((size_t)nnames, sizeof(*t));
	leaf_key = EVP_EC_gen("P-256");
	spki_len = i2d_PUBKEY(leaf_key, &spki);
	if (!t || spki_len <= 0)
		return 1;

	/* Warm-up: first-use costs in OpenSSL are not what a steady agent pays. */
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "warm%d.example.com", i);
		X509_free(certmint_get(m, name, err, sizeof(err)));
	}

	for (i = 0; i < nnames; i++) {
		snprintf(name, sizeof(name), "n%d.mint.example.com", i);
		t0 = now_ns();
		leaf = certmint_get(m, name, err, sizeof(err));
		t[i] = now_ns() - t0;
		if (!leaf) {
			fprintf(stderr, "mint_bench: %s: %s\n", name, err);
			return 1;
		}
		X509_free(leaf);
		total += t[i];
	}

	t0 = now_ns();
	for (i = 0; i < ncached; i++) {
		snprintf(name, sizeof(name), "n%d.mint.example.com", i % nnames);
		leaf = certmint_get(m, name, err, sizeof(err));
		X509_free(leaf);
	}
	/* The snprintf is part of the loop; measure it alone and take it out. */
	{
		uint64_t loop = now_ns() - t0, fmt;

		t0 = now_ns();
		for (i = 0; i < ncached; i++) {
			snprintf(name, sizeof(name), "n%d.mint.example.com", i % nnames);
			__asm__ volatile("" : : "r"(name) : "memory");
		}
		fmt = now_ns() - t0;
		qsort(t, (size_t)nnames, sizeof(*t), cmp_u64);
		printf("mint_us_mean=%.1f mint_us_p99=%.1f cached_ns_mean=%.0f mint_us_p50=%.1f\n",
		       (double)total / nnames / 1000.0, (double)t[nnames * 99 / 100] / 1000.0,
		       (double)(loop > fmt ? loop - fmt : 0) / ncached,
		       (double)t[nnames / 2] / 1000.0);
	}
	certmint_get_stats(m, &st);
	if (st.mint_failures) {
		fprintf(stderr, "mint_bench: %llu mint failures\n",
			(unsigned long long)st.mint_failures);
		return 1;
	}

	/* Breakdown: the signer round trip when the answer is parsed (request, sign in the child,
	 * response, d2i_X509 in this process), d2i_X509 alone, and what a connection pays for
	 * its SSL with a cached leaf (certmint_ssl: SSL_new and SSL_use_cert_and_key). */
	for (i = 0; i < 500; i++) {
		struct casign_req req = {name, spki, (size_t)spki_len, 0, NULL};

		snprintf(name, sizeof(name), "b%d.mint.example.com", i);
		t0 = now_ns();
		if (casign_sign(cs1, &req, &x, err, sizeof(err)) < 0)
			return 1;
		sign_total += now_ns() - t0;
		if (!der)
			der_len = i2d_X509(x, &der);
		X509_free(x);
	}
	for (i = 0; i < 500; i++) {
		const unsigned char *p = der;

		t0 = now_ns();
		x = d2i_X509(NULL, &p, der_len);
		d2i_total += now_ns() - t0;
		X509_free(x);
	}
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "n%d.mint.example.com", i);
		t0 = now_ns();
		ssl = certmint_ssl(m, name, err, sizeof(err));
		ssl_total += now_ns() - t0;
		if (!ssl)
			return 1;
		SSL_free(ssl);
	}
	printf("parsed_roundtrip_us_mean=%.1f d2i_x509_us_mean=%.1f signer_only_us_est=%.1f "
	       "mints_parsed=%llu/%llu ssl_cached_us_mean=%.1f\n",
	       (double)sign_total / 500 / 1000.0, (double)d2i_total / 500 / 1000.0,
	       (double)(sign_total > d2i_total ? sign_total - d2i_total : 0) / 500 / 1000.0,
	       (unsigned long long)st.mints_parsed, (unsigned long long)st.misses,
	       (double)ssl_total / 500 / 1000.0);

	rate1 = sign_rate(cs1, spki, (size_t)spki_len, 500);
	rate4 = sign_rate(cs2, spki, (size_t)spki_len, 500);
	printf("sign_per_s_%dthreads_1chan=%.0f sign_per_s_%dthreads_%dchan=%.0f "
	       "mint_per_s_%dthreads=%.0f\n",
	       THREADS, rate1, THREADS, THREADS, rate4, THREADS, mint_rate(m, 250));

	casign_stop(cs1);
	casign_stop(cs2);
	certmint_free(m);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	EVP_PKEY_free(leaf_key);
	free(t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
