/* test_certmint: casign (the forked signer) and certmint (the per-SNI SSL_CTX cache) against
 * throwaway CAs made in a mkdtemp directory by a forked helper, so this process never holds a CA
 * key itself: leaves verify with hostname checks and carry the right extensions; the cache hits,
 * evicts in LRU order and survives 8 threads; bad names are refused; real TLS 1.2 and 1.3
 * handshakes over a BIO pair negotiate ALPN and resume; the key file is opened only by the
 * signer, and the key is not in this process's memory; RSA and P-384 CAs work; name
 * constraints are enforced by the signer; answers reach the thread that asked; the signer keeps
 * no capabilities or spare fds, and dies with its socket or its parent. */
/* cmocka.h needs these first. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "casign.h"
#include "certmint.h"

static char tmpdir[64];

/* ------------------------------------------------------------------------------------------ */
/* Throwaway CAs                                                                               */

enum ca_key { CA_EC256 = 1, CA_EC384, CA_RSA2048, CA_ED25519 };

struct ca_opts {
	enum ca_key key;
	bool not_ca;	     /* basicConstraints CA:FALSE */
	bool mismatched_key; /* write a key other than the certificate's */
	bool encrypted_key;  /* PEM key under a passphrase */
	const char *nc;	     /* nameConstraints value, e.g. "critical,permitted;DNS:a.com" */
};

static void ca_paths(const char *name, char *crt, char *key)
{
	snprintf(crt, 256, "%s/%s.crt", tmpdir, name);
	snprintf(key, 256, "%s/%s.key", tmpdir, name);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ex)
		return 0;
	ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

static EVP_PKEY *gen_key(enum ca_key k)
{
	if (k == CA_ED25519)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return k == CA_RSA2048 ? EVP_RSA_gen(2048) : EVP_EC_gen(k == CA_EC384 ? "P-384" : "P-256");
}

/* ca_child - runs in the forked helper: make the key and self-signed certificate, write them. */
static int ca_child(const char *crt, const char *key, const struct ca_opts *o)
{
	EVP_PKEY *pk = gen_key(o->key), *wk = pk;
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	FILE *f;
	int fd, ok = 1;

	if (!pk || !x || !n)
		return 1;
	ok &= X509_set_version(x, X509_VERSION_3);
	ok &= ASN1_INTEGER_set(X509_get_serialNumber(x), (long)getpid());
	ok &= X509_gmtime_adj(X509_getm_notBefore(x), -86400) != NULL;
	ok &= X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400) != NULL;
	ok &= X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					 (const unsigned char *)"modelux test CA", -1, -1, 0);
	ok &= X509_set_subject_name(x, n) && X509_set_issuer_name(x, n);
	ok &= X509_set_pubkey(x, pk);
	ok &= add_ext(x, x, NID_basic_constraints,
		      o->not_ca ? "critical,CA:FALSE" : "critical,CA:TRUE");
	ok &= add_ext(x, x, NID_key_usage,
		      o->not_ca ? "critical,digitalSignature" : "critical,keyCertSign,cRLSign");
	ok &= add_ext(x, x, NID_subject_key_identifier, "hash");
	if (o->nc)
		ok &= add_ext(x, x, NID_name_constraints, o->nc);
	ok &= X509_sign(x, pk,
			o->key == CA_ED25519 ? NULL
			: o->key == CA_EC384 ? EVP_sha384()
					     : EVP_sha256()) > 0;
	if (!ok)
		return 1;
	f = fopen(crt, "w");
	if (!f || !PEM_write_X509(f, x) || fclose(f))
		return 1;
	if (o->mismatched_key)
		wk = gen_key(o->key);
	fd = open(key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f || !wk)
		return 1;
	if (o->encrypted_key)
		ok = PEM_write_PrivateKey(f, wk, EVP_aes_128_cbc(), (unsigned char *)"secret", 6,
					  NULL, NULL);
	else
		ok = PEM_write_PrivateKey(f, wk, NULL, NULL, 0, NULL, NULL);
	return ok && fclose(f) == 0 ? 0 : 1;
}

/* forked_cert - CA <name> in tmpdir, made by a forked helper so that no CA private key is ever
 * in this process (the memory test relies on it): self-signed as <o> says, or, with <root>, an
 * intermediate under that CA (inter_child). Returns the certificate (public) or fails. */
static int inter_child(const char *name, const char *root);
static X509 *forked_cert(const char *name, const struct ca_opts *o, const char *root)
{
	char crt[256], key[256];
	pid_t pid;
	int st;
	FILE *f;
	X509 *x;

	ca_paths(name, crt, key);
	unlink(crt);
	unlink(key);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(root ? inter_child(name, root) : ca_child(crt, key, o));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	f = fopen(crt, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static X509 *make_ca(const char *name, const struct ca_opts *o)
{
	return forked_cert(name, o, NULL);
}

/* inter_child - runs in the forked helper: a P-256 intermediate signed by CA <root> (made by
 * make_ca), written as <name>: its certificate followed by the root's, and its key. */
static int inter_child(const char *name, const char *root)
{
	char crt[256], key[256], rcrt[256], rkey[256];
	EVP_PKEY *pk = EVP_EC_gen("P-256"), *rk;
	X509 *x = X509_new(), *r;
	X509_NAME *n = X509_NAME_new();
	FILE *f;
	int fd, ok = 1;

	ca_paths(name, crt, key);
	ca_paths(root, rcrt, rkey);
	f = fopen(rcrt, "r");
	r = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	f = fopen(rkey, "r");
	rk = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!pk || !x || !n || !r || !rk)
		return 1;
	ok &= X509_set_version(x, X509_VERSION_3);
	ok &= ASN1_INTEGER_set(X509_get_serialNumber(x), (long)getpid());
	ok &= X509_gmtime_adj(X509_getm_notBefore(x), -86400) != NULL;
	ok &= X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) != NULL;
	ok &= X509_NAME_add_entry_by_txt(
	    n, "CN", MBSTRING_ASC, (const unsigned char *)"modelux test intermediate", -1, -1, 0);
	ok &= X509_set_subject_name(x, n) && X509_set_issuer_name(x, X509_get_subject_name(r));
	ok &= X509_set_pubkey(x, pk);
	ok &= add_ext(x, r, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
	ok &= add_ext(x, r, NID_key_usage, "critical,keyCertSign,cRLSign");
	ok &= add_ext(x, r, NID_subject_key_identifier, "hash");
	ok &= add_ext(x, r, NID_authority_key_identifier, "keyid:always");
	ok &= X509_sign(x, rk, EVP_sha256()) > 0;
	f = ok ? fopen(crt, "w") : NULL;
	if (!f || !PEM_write_X509(f, x) || !PEM_write_X509(f, r) || fclose(f))
		return 1;
	fd = open(key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	return f && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) && fclose(f) == 0 ? 0
											     : 1;
}

/* make_intermediate - an intermediate <name> under CA <root>; returns its certificate. */
static X509 *make_intermediate(const char *name, const char *root)
{
	return forked_cert(name, NULL, root);
}

static struct certmint *new_mint(const char *ca, unsigned entries)
{
	char crt[256], key[256], err[512] = "";
	struct certmint *m;

	ca_paths(ca, crt, key);
	m = certmint_new(crt, key, entries, err, sizeof(err));
	if (!m)
		fail_msg("certmint_new: %s", err);
	return m;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks on a leaf                                                                            */

/* verify_leaf - X509_verify_cert of <leaf> against a store holding only <ca>, as a TLS server
 * for <host>. Returns the verification error (X509_V_OK on success). */
static int verify_leaf(X509 *ca, X509 *leaf, STACK_OF(X509) * untrusted, const char *host)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc;

	assert_true(store && ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	assert_int_equal(X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0), 1);
	rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

static int ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return i < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* srv - a server SSL from <m> for <name>, or the test fails. */
static SSL *srv(struct certmint *m, const char *name)
{
	char err[256] = "";
	SSL *s = certmint_ssl(m, name, err, sizeof(err));

	if (!s)
		fail_msg("certmint_ssl(%s): %s", name, err);
	return s;
}

/* check_leaf - what a connection for <name> from <m> presents: the leaf and the CA chain. */
static void check_leaf(X509 *ca, struct certmint *m, const char *name)
{
	SSL *ssl = srv(m, name);
	X509 *leaf = SSL_get_certificate(ssl);
	STACK_OF(X509) *chain = NULL;
	GENERAL_NAMES *san;
	GENERAL_NAME *gn;
	EVP_PKEY *pub;
	BIGNUM *serial;
	char group[32];
	time_t now = time(NULL);
	int day, sec;

	assert_non_null(leaf);
	/* The root is what clients trust; it is not sent. */
	assert_int_equal(SSL_get0_chain_certs(ssl, &chain), 1);
	assert_int_equal(sk_X509_num(chain), 0);
	assert_int_equal(verify_leaf(ca, leaf, chain, name), X509_V_OK);
	assert_int_equal(verify_leaf(ca, leaf, chain, "evil.example.com"),
			 X509_V_ERR_HOSTNAME_MISMATCH);

	/* SAN: exactly one dNSName, the name. */
	san = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	assert_non_null(san);
	assert_int_equal(sk_GENERAL_NAME_num(san), 1);
	gn = sk_GENERAL_NAME_value(san, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName), name);
	GENERAL_NAMES_free(san);

	assert_int_equal(X509_get_version(leaf), X509_VERSION_3);
	assert_true(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
	assert_int_equal(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER);
	assert_int_equal(X509_get_extension_flags(leaf) & EXFLAG_CA, 0);
	assert_int_equal(ext_critical(leaf, NID_basic_constraints), 1);
	assert_int_equal(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
	assert_int_equal(ext_critical(leaf, NID_key_usage), 1);
	assert_int_equal(ext_critical(leaf, NID_ext_key_usage), 0);
	assert_non_null(X509_get0_subject_key_id(leaf));
	assert_non_null(X509_get0_authority_key_id(leaf));
	assert_int_equal(
	    ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf), X509_get0_subject_key_id(ca)),
	    0);

	/* 128 random bits of serial (the top octet is never zero). */
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	assert_true(BN_num_bits(serial) > 120 && BN_num_bits(serial) <= 128);
	BN_free(serial);

	/* notBefore an hour back, notAfter 30 days on (a minute of slack for slow runs). */
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(leaf), &now), -1);
	now -= 3600 - 60;
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(leaf), &now), -1);
	now -= 120;
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(leaf), &now), 1);
	assert_int_equal(
	    ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(leaf), X509_get0_notAfter(leaf)), 1);
	assert_int_equal(day, 30); /* 30 days on plus the hour of back-dating */
	assert_int_equal(sec, 3600);

	pub = X509_get0_pubkey(leaf);
	assert_int_equal(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL), 1);
	assert_string_equal(group, "prime256v1");
	SSL_free(ssl);
}

/* ------------------------------------------------------------------------------------------ */
/* TLS over a BIO pair                                                                         */

struct hs {
	bool ok;
	long verify;
	int version;
	char alpn[32];
	bool reused;
};

/* handshake - a client trusting only <ca>, verifying <host>, pinned to <version>, offering
 * <alpn> (wire format, NULL = none), against server SSL <s> (freed here); then one round of
 * application data so TLS 1.3 tickets reach the client. *<sess> in: session to resume; out:
 * the new session. */
static struct hs handshake(SSL *s, X509 *ca, const char *host, int version, const char *alpn,
			   size_t alpn_len, SSL_SESSION **sess)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *c;
	BIO *cb, *sb;
	struct hs r = {0};
	const unsigned char *sel;
	unsigned int sel_len;
	char buf[8];
	int i, rc = 0, rs = 0;

	assert_non_null(cctx);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), ca), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	c = SSL_new(cctx);
	assert_true(c && s);
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	assert_int_equal(SSL_set_tlsext_host_name(c, host), 1);
	assert_int_equal(SSL_set1_host(c, host), 1);
	if (alpn)
		assert_int_equal(SSL_set_alpn_protos(c, (const unsigned char *)alpn, alpn_len), 0);
	if (sess && *sess)
		assert_int_equal(SSL_set_session(c, *sess), 1);

	for (i = 0; i < 100; i++) {
		rc = SSL_do_handshake(c);
		rs = SSL_do_handshake(s);
		if (rc == 1 && rs == 1)
			break;
		if ((rc != 1 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) ||
		    (rs != 1 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ))
			break;
	}
	r.verify = SSL_get_verify_result(c);
	r.ok = rc == 1 && rs == 1;
	if (r.ok) {
		assert_int_equal(SSL_write(c, "ping", 4), 4);
		assert_int_equal(SSL_read(s, buf, sizeof(buf)), 4);
		assert_int_equal(SSL_write(s, "pong", 4), 4);
		assert_int_equal(SSL_read(c, buf, sizeof(buf)), 4);
		assert_memory_equal(buf, "pong", 4);
		r.version = SSL_version(c);
		r.reused = SSL_session_reused(c);
		SSL_get0_alpn_selected(c, &sel, &sel_len);
		snprintf(r.alpn, sizeof(r.alpn), "%.*s", (int)sel_len, (const char *)sel);
		if (sess) {
			SSL_SESSION_free(*sess);
			*sess = SSL_get1_session(c);
		}
	}
	/* close_notify both ways: OpenSSL will not resume a session whose connection was
	 * dropped without one. */
	if (r.ok) {
		SSL_shutdown(c);
		SSL_shutdown(s);
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	return r;
}

#define ALPN_H2_H11 "\x02h2\x08http/1.1"
#define ALPN_H11_H2 "\x08http/1.1\x02h2"
#define ALPN_H11 "\x08http/1.1"
#define ALPN_OTHER "\x06spdy/3"

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                       */

static void leaf_verifies(void **state)
{
	X509 *ca = make_ca("ec", &(struct ca_opts){.key = CA_EC256});
	struct certmint *m = new_mint("ec", 16);
	struct certmint_stats st;
	char err[256];
	X509 *ctx;
	X509 *leaf;

	ctx = certmint_get(m, "api.openai.com", err, sizeof(err));
	assert_non_null(ctx);
	check_leaf(ca, m, "api.openai.com");
	leaf = ctx;
	assert_int_equal(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);
	X509_free(ctx);

	/* Names longer than a commonName may be (64) go in the SAN alone, which is then
	 * critical, and still verify. */
	ctx =
	    certmint_get(m, "a-fairly-long-label-to-pass-sixty-four-characters.example.openai.com",
			 err, sizeof(err));
	assert_non_null(ctx);
	leaf = ctx;
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(leaf)), 0);
	assert_int_equal(ext_critical(leaf, NID_subject_alt_name), 1);
	assert_int_equal(
	    verify_leaf(ca, leaf, NULL,
			"a-fairly-long-label-to-pass-sixty-four-characters.example.openai.com"),
	    X509_V_OK);
	X509_free(ctx);
	/* Only the first answer was parsed; the others were rebuilt in memory and came out
	 * byte for byte what the signer signed (casign checks; check_leaf verified them). */
	check_leaf(ca, m, "api.anthropic.com");
	certmint_get_stats(m, &st);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.mints_parsed, 1);
	certmint_free(m);
	X509_free(ca);
}

static void cache_hit_same(void **state)
{
	struct certmint *m = new_mint("ec", 16);
	struct certmint_stats st;
	char err[256];
	X509 *a, *b;

	a = certmint_get(m, "api.anthropic.com", err, sizeof(err));
	b = certmint_get(m, "api.anthropic.com", err, sizeof(err));
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_ptr_equal(a, b);
	certmint_get_stats(m, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.mint_failures, 0);
	assert_true(st.mint_ns_total > 0 && st.mint_ns_max > 0);
	X509_free(a);
	X509_free(b);
	/* A context the caller still holds outlives the cache. */
	a = certmint_get(m, "api.anthropic.com", err, sizeof(err));
	certmint_free(m);
	assert_non_null(a);
	X509_free(a);
}

static X509 *get_ok(struct certmint *m, const char *name)
{
	char err[256] = "";
	X509 *ctx = certmint_get(m, name, err, sizeof(err));

	if (!ctx)
		fail_msg("certmint_get(%s): %s", name, err);
	return ctx;
}

static void lru_eviction(void **state)
{
	struct certmint *m = new_mint("ec", 3);
	struct certmint_stats st;
	X509 *a, *b, *c, *d, *x;

	a = get_ok(m, "a.example.com");
	b = get_ok(m, "b.example.com");
	c = get_ok(m, "c.example.com");
	x = get_ok(m, "a.example.com"); /* a is now the most recent; b the oldest */
	assert_ptr_equal(x, a);
	X509_free(x);
	d = get_ok(m, "d.example.com"); /* evicts b */
	certmint_get_stats(m, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.misses, 4);
	assert_int_equal(st.hits, 1);

	x = get_ok(m, "a.example.com");
	assert_ptr_equal(x, a);
	X509_free(x);
	x = get_ok(m, "c.example.com");
	assert_ptr_equal(x, c);
	X509_free(x);
	x = get_ok(m, "d.example.com");
	assert_ptr_equal(x, d);
	X509_free(x);
	x = get_ok(m, "b.example.com"); /* minted again: a new context; evicts a (oldest now) */
	assert_ptr_not_equal(x, b);
	certmint_get_stats(m, &st);
	assert_int_equal(st.misses, 5);
	assert_int_equal(st.hits, 4);
	assert_int_equal(st.evictions, 2);
	X509_free(x);
	x = get_ok(m, "a.example.com");
	assert_ptr_not_equal(x, a);
	X509_free(x);

	/* b, held by us through its eviction, is still a working context. */
	assert_non_null(b);
	X509_free(a);
	X509_free(b);
	X509_free(c);
	X509_free(d);
	certmint_free(m);
}

static void invalid_names(void **state)
{
	static const char *bad[] = {
	    "",
	    "API.openai.com",
	    "api.OpenAI.com",
	    "*.openai.com",
	    "api.openai.com.",
	    ".openai.com",
	    "api..openai.com",
	    "-api.openai.com",
	    "api-.openai.com",
	    "1.2.3.4",
	    "10.0.0.1",
	    "api openai.com",
	    "api_x.openai.com",
	    "api.openai.com\n",
	    "caf\xc3\xa9.example.com",
	    "api.openai.com:443",
	    "xn--a.b/c",
	    "0123456789012345678901234567890123456789012345678901234567890123.com", /* 64 */
	};
	struct certmint *m = new_mint("ec", 4);
	struct certmint_stats st;
	char err[256], long_name[300];
	size_t i;
	X509 *ctx;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ctx = certmint_get(m, bad[i], err, sizeof(err));
		if (ctx)
			fail_msg("bad name #%zu accepted", i);
		assert_true(strncmp(err, "SNI refused: ", 13) == 0 && strlen(err) > 13);
		/* The message must not carry the raw bytes (newline, UTF-8) into a log line. */
		assert_null(strchr(err, '\n'));
	}
	/* 254 characters: one over. */
	memset(long_name, 'a', sizeof(long_name));
	for (i = 63; i < 254; i += 64)
		long_name[i] = '.';
	long_name[254] = '\0';
	assert_null(certmint_get(m, long_name, err, sizeof(err)));
	assert_non_null(strstr(err, "longer than 253"));
	assert_null(certmint_get(m, NULL, err, sizeof(err)));

	certmint_get_stats(m, &st);
	assert_int_equal(st.misses + st.hits + st.mint_failures, 0);

	/* The longest legal name (253, labels of 63) and a 63-character label are fine. */
	long_name[253] = '\0';
	long_name[252] = 'z';
	ctx = get_ok(m, long_name);
	X509_free(ctx);
	ctx = get_ok(m, "012345678901234567890123456789012345678901234567890123456789012.com");
	X509_free(ctx);
	ctx = get_ok(m, "xn--caf-dma.example.com");
	X509_free(ctx);
	ctx = get_ok(m, "localhost");
	X509_free(ctx);
	certmint_free(m);

	/* The same rules at the signer, for a caller that skips certmint. */
	assert_false(casign_name_valid("a.1", err, sizeof(err)));
	assert_true(casign_name_valid("1a.example.com", err, sizeof(err)));
	assert_true(casign_name_valid("a.b1", err, sizeof(err)));
}

/* Concurrency: 8 threads, 200 names, a cache of 128 so that eviction races lookups too. */
#define CONC_THREADS 8
#define CONC_NAMES 200

struct conc {
	struct certmint *m;
	int idx;
	int failures;
};

static void *conc_main(void *arg)
{
	struct conc *c = arg;
	char name[64], err[256];
	int pass, i;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < CONC_NAMES; i++) {
			int n = (i * 7 + c->idx * 25) % CONC_NAMES;
			X509 *ctx;

			snprintf(name, sizeof(name), "h%d.conc.example.com", n);
			ctx = certmint_get(c->m, name, err, sizeof(err));
			if (!ctx || X509_check_host(ctx, name, 0, 0, NULL) != 1)
				c->failures++;
			X509_free(ctx);
		}
	}
	return NULL;
}

static void concurrent_get(void **state)
{
	struct certmint *m = new_mint("ec", 128);
	struct conc c[CONC_THREADS];
	pthread_t t[CONC_THREADS];
	struct certmint_stats st;
	int i;

	for (i = 0; i < CONC_THREADS; i++) {
		c[i] = (struct conc){.m = m, .idx = i};
		assert_int_equal(pthread_create(&t[i], NULL, conc_main, &c[i]), 0);
	}
	for (i = 0; i < CONC_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(c[i].failures, 0);
	}
	certmint_get_stats(m, &st);
	assert_int_equal(st.hits + st.misses, CONC_THREADS * CONC_NAMES * 2);
	assert_int_equal(st.mint_failures, 0);
	assert_int_equal(st.entries, 128);
	assert_true(st.misses >= CONC_NAMES);
	print_message("concurrent: %llu hits, %llu misses, %llu evictions\n",
		      (unsigned long long)st.hits, (unsigned long long)st.misses,
		      (unsigned long long)st.evictions);
	certmint_free(m);
}

static void tls_handshakes(void **state)
{
	X509 *ca = make_ca("ec", &(struct ca_opts){.key = CA_EC256});
	struct certmint *m = new_mint("ec", 16);
	static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
	SSL_SESSION *sess = NULL;
	X509 *ctx = get_ok(m, "api.openai.com");
	struct hs r;
	size_t i;

	for (i = 0; i < 2; i++) {
		int v = versions[i];

		r = handshake(srv(m, "api.openai.com"), ca, "api.openai.com", v, ALPN_H2_H11,
			      sizeof(ALPN_H2_H11) - 1, &sess);
		assert_true(r.ok);
		assert_int_equal(r.verify, X509_V_OK);
		assert_int_equal(r.version, v);
		assert_string_equal(r.alpn, "h2");
		assert_false(r.reused);
		/* Session resumption: TLS 1.2 by ticket or id, TLS 1.3 by ticket. */
		r = handshake(srv(m, "api.openai.com"), ca, "api.openai.com", v, ALPN_H2_H11,
			      sizeof(ALPN_H2_H11) - 1, &sess);
		assert_true(r.ok);
		assert_true(r.reused);
		/* ...but never under another name (all names share one context and its ticket
		 * keys): resumed, the connection would skip that name's certificate. */
		r = handshake(srv(m, "api.anthropic.com"), ca, "api.anthropic.com", v, ALPN_H2_H11,
			      sizeof(ALPN_H2_H11) - 1, &sess);
		assert_true(r.ok);
		assert_false(r.reused);
		SSL_SESSION_free(sess);
		sess = NULL;

		/* h2 wins whatever the client's order; http/1.1 alone; nothing known: no ALPN. */
		r = handshake(srv(m, "api.openai.com"), ca, "api.openai.com", v, ALPN_H11_H2,
			      sizeof(ALPN_H11_H2) - 1, NULL);
		assert_true(r.ok);
		assert_string_equal(r.alpn, "h2");
		r = handshake(srv(m, "api.openai.com"), ca, "api.openai.com", v, ALPN_H11,
			      sizeof(ALPN_H11) - 1, NULL);
		assert_true(r.ok);
		assert_string_equal(r.alpn, "http/1.1");
		r = handshake(srv(m, "api.openai.com"), ca, "api.openai.com", v, ALPN_OTHER,
			      sizeof(ALPN_OTHER) - 1, NULL);
		assert_true(r.ok);
		assert_string_equal(r.alpn, "");
		r = handshake(srv(m, "api.openai.com"), ca, "api.openai.com", v, NULL, 0, NULL);
		assert_true(r.ok);
		assert_string_equal(r.alpn, "");

		/* A client that wants another name refuses this leaf. */
		r = handshake(srv(m, "api.openai.com"), ca, "api.anthropic.com", v, NULL, 0, NULL);
		assert_false(r.ok);
		assert_int_equal(r.verify, X509_V_ERR_HOSTNAME_MISMATCH);
	}
	X509_free(ctx);
	certmint_free(m);
	X509_free(ca);
}

/* fanotify reports every open of the key file with the opener's pid: only the signer may
 * appear. Needs CAP_SYS_ADMIN (the tests run as root). */
static void key_opened_only_by_signer(void **state)
{
	char crt[256], key[256], err[256];
	unsigned char *spki = NULL;
	EVP_PKEY *leaf_key = EVP_EC_gen("P-256");
	struct casign *cs;
	struct fanotify_event_metadata ev[32];
	int fan, spki_len, opens = 0, i;
	ssize_t n;
	X509 *x;

	X509_free(make_ca("ec", &(struct ca_opts){.key = CA_EC256}));
	ca_paths("ec", crt, key);
	fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_CLOEXEC);
	if (fan < 0)
		skip();
	assert_int_equal(fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, key), 0);

	assert_int_equal(casign_start(&cs, crt, key, 2, err, sizeof(err)), 0);
	spki_len = i2d_PUBKEY(leaf_key, &spki);
	for (i = 0; i < 4; i++) {
		struct casign_req req = {"api.openai.com", spki, (size_t)spki_len, 0, NULL};

		assert_int_equal(casign_sign(cs, &req, &x, err, sizeof(err)), 0);
		X509_free(x);
	}
	while ((n = read(fan, ev, sizeof(ev))) > 0) {
		struct fanotify_event_metadata *e = ev;

		for (; FAN_EVENT_OK(e, n); e = FAN_EVENT_NEXT(e, n)) {
			if (e->fd >= 0)
				close(e->fd);
			assert_int_equal(e->pid, casign_pid(cs));
			assert_int_not_equal(e->pid, getpid());
			opens++;
		}
	}
	assert_int_equal(opens, 1); /* once, by the one signer, whatever the channels */
	close(fan);
	casign_stop(cs);
	OPENSSL_free(spki);
	EVP_PKEY_free(leaf_key);
}

/* Once the signer is up the key file can go: minting goes on. */
static void key_file_gone_after_start(void **state)
{
	char crt[256], key[256];
	struct certmint *m;
	X509 *ctx;

	X509_free(make_ca("gone", &(struct ca_opts){.key = CA_EC256}));
	ca_paths("gone", crt, key);
	m = new_mint("gone", 8);
	assert_int_equal(chmod(key, 0), 0);
	assert_int_equal(unlink(key), 0);
	ctx = get_ok(m, "api.mistral.ai");
	X509_free(ctx);
	certmint_free(m);
}

/* scan_for - whether <pat> (<len> bytes, <= 64) occurs in any readable mapping of <pid>.
 * Returns 1 found, 0 not found, -1 could not read the memory at all. */
static int scan_for(pid_t pid, const unsigned char *pat, size_t len)
{
	enum { CHUNK = 1 << 20 };
	char path[64], line[512], perms[8];
	unsigned long lo, hi, off;
	size_t scanned = 0;
	int found = 0, mem;
	FILE *maps;
	unsigned char *buf = malloc(CHUNK + 64);

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (!maps || mem < 0 || !buf)
		return -1;
	while (!found && fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[0] != 'r')
			continue;
		/* Skip huge reservations (sanitizer shadow): the heap and stacks are far smaller.
		 */
		if (hi - lo > (256ul << 20) || strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
			continue;
		/* Chunks overlap by len - 1 bytes so a match across a boundary is seen. */
		for (off = lo; !found && off < hi; off += CHUNK) {
			size_t want = hi - off < CHUNK + len - 1 ? hi - off : CHUNK + len - 1;
			ssize_t n = pread(mem, buf, want, (off_t)off);

			if (n <= 0)
				break;
			scanned += (size_t)n;
			found = memmem(buf, (size_t)n, pat, len) != NULL;
		}
	}
	fclose(maps);
	close(mem);
	free(buf);
	return scanned ? found : -1;
}

/* The CA private scalar is nowhere in this process after minting; a marker placed in this
 * process's heap on purpose is found by the same scan (the scan can see). The scan runs in a
 * forked helper, which alone reads the key. */
static void key_not_in_parent_memory(void **state)
{
	char crt[256], key[256];
	unsigned char *marker = malloc(32);
	struct certmint *m;
	X509 *ctx;
	pid_t parent = getpid(), pid;
	int st;

	X509_free(make_ca("mem", &(struct ca_opts){.key = CA_EC256}));
	ca_paths("mem", crt, key);
	m = new_mint("mem", 8);
	ctx = get_ok(m, "api.groq.com");
	assert_non_null(marker);
	assert_int_equal(RAND_bytes(marker, 32), 1);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		FILE *f = fopen(key, "r");
		EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
		BIGNUM *priv = NULL;
		unsigned char scalar[32];
		int found;

		if (!k || !EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &priv) ||
		    BN_bn2binpad(priv, scalar, 32) != 32)
			_exit(3);
		if (scan_for(parent, marker, 32) != 1)
			_exit(2);
		found = scan_for(parent, scalar, 32);
		_exit(found == 0 ? 0 : found == 1 ? 1 : 2);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 2)
		print_message("memory scan could not read this process; not checked\n");
	else
		assert_int_equal(WEXITSTATUS(st), 0);
	free(marker);
	X509_free(ctx);
	certmint_free(m);
}

static void other_cas(void **state)
{
	static const struct {
		enum ca_key key;
		int sig_nid;
	} cas[] = {{CA_RSA2048, NID_sha256WithRSAEncryption},
		   {CA_EC384, NID_ecdsa_with_SHA384},
		   {CA_ED25519, NID_ED25519}};
	size_t i;

	for (i = 0; i < sizeof(cas) / sizeof(cas[0]); i++) {
		X509 *ca = make_ca("other", &(struct ca_opts){.key = cas[i].key});
		struct certmint *m = new_mint("other", 8);
		X509 *ctx = get_ok(m, "api.x.ai");
		struct certmint_stats st;
		struct hs r;

		check_leaf(ca, m, "api.x.ai");
		assert_int_equal(X509_get_signature_nid(ctx), cas[i].sig_nid);
		r = handshake(srv(m, "api.x.ai"), ca, "api.x.ai", TLS1_3_VERSION, ALPN_H2_H11,
			      sizeof(ALPN_H2_H11) - 1, NULL);
		assert_true(r.ok);
		assert_string_equal(r.alpn, "h2");
		r = handshake(srv(m, "api.x.ai"), ca, "api.x.ai", TLS1_2_VERSION, NULL, 0, NULL);
		assert_true(r.ok);
		/* The second leaf is rebuilt, not parsed, under this CA's algorithm too. */
		check_leaf(ca, m, "api.groq.com");
		certmint_get_stats(m, &st);
		assert_int_equal(st.misses, 2);
		assert_int_equal(st.mints_parsed, 1);
		X509_free(ctx);
		certmint_free(m);
		X509_free(ca);
	}
}

/* A CA file holding an intermediate and its root: connections send the intermediate (clients
 * trust only the root), never the root. */
static void intermediate_sent(void **state)
{
	X509 *root = make_ca("iroot", &(struct ca_opts){.key = CA_EC256});
	X509 *inter = make_intermediate("inter", "iroot");
	struct certmint *m = new_mint("inter", 4);
	SSL *ssl = srv(m, "api.openai.com");
	STACK_OF(X509) *chain = NULL;
	struct hs r;

	assert_int_equal(SSL_get0_chain_certs(ssl, &chain), 1);
	assert_int_equal(sk_X509_num(chain), 1);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), inter), 0);
	assert_int_equal(verify_leaf(root, SSL_get_certificate(ssl), chain, "api.openai.com"),
			 X509_V_OK);
	/* Without the intermediate the leaf does not verify: it is needed, and it is sent. */
	assert_int_not_equal(verify_leaf(root, SSL_get_certificate(ssl), NULL, "api.openai.com"),
			     X509_V_OK);
	SSL_free(ssl);
	r = handshake(srv(m, "api.openai.com"), root, "api.openai.com", TLS1_3_VERSION, NULL, 0,
		      NULL);
	assert_true(r.ok);
	assert_int_equal(r.verify, X509_V_OK);
	certmint_free(m);
	X509_free(inter);
	X509_free(root);
}

/* A CA restricted by name constraints: the signer refuses names outside them up front. */
static void name_constraints_enforced(void **state)
{
	X509 *ca = make_ca(
	    "nc", &(struct ca_opts){.key = CA_EC256, .nc = "critical,permitted;DNS:openai.com"});
	struct certmint *m = new_mint("nc", 8);
	char err[256] = "";
	X509 *ctx = get_ok(m, "api.openai.com");

	check_leaf(ca, m, "api.openai.com");
	X509_free(ctx);
	assert_null(certmint_get(m, "evil.example.com", err, sizeof(err)));
	assert_non_null(strstr(err, "name constraints"));
	certmint_free(m);
	X509_free(ca);
}

static void bad_ca_files(void **state)
{
	static const struct {
		const char *name;
		struct ca_opts o;
		const char *why;
	} cases[] = {
	    {"notca", {.key = CA_EC256, .not_ca = true}, "not a CA"},
	    {"mismatch", {.key = CA_EC256, .mismatched_key = true}, "does not match"},
	    {"enc", {.key = CA_EC256, .encrypted_key = true}, "not an unencrypted"},
	};
	char crt[256], key[256], err[512];
	struct certmint *m;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509_free(make_ca(cases[i].name, &cases[i].o));
		ca_paths(cases[i].name, crt, key);
		err[0] = '\0';
		m = certmint_new(crt, key, 8, err, sizeof(err));
		assert_null(m);
		if (!strstr(err, cases[i].why))
			fail_msg("%s: expected \"%s\" in \"%s\"", cases[i].name, cases[i].why, err);
	}
	ca_paths("nonexistent", crt, key);
	assert_null(certmint_new(crt, key, 8, err, sizeof(err)));
	assert_non_null(strstr(err, "nonexistent.crt"));
}

/* Requests from several threads over fewer channels each get their own certificate back. */
struct pair_job {
	struct casign *cs;
	const unsigned char *spki;
	size_t spki_len;
	int idx;
	int failures;
};

static void *pair_main(void *arg)
{
	struct pair_job *j = arg;
	char name[64], err[256];
	int i;

	for (i = 0; i < 50; i++) {
		struct casign_req req = {name, j->spki, j->spki_len, 0, NULL};
		X509 *x = NULL;

		snprintf(name, sizeof(name), "t%d-%d.pair.example.com", j->idx, i);
		if (casign_sign(j->cs, &req, &x, err, sizeof(err)) < 0 ||
		    X509_check_host(x, name, 0, 0, NULL) != 1)
			j->failures++;
		X509_free(x);
	}
	return NULL;
}

static void channels_pair_requests(void **state)
{
	char crt[256], key[256], err[256];
	unsigned char *spki = NULL;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct pair_job jobs[6];
	pthread_t t[6];
	struct casign *cs;
	int len, i;

	ca_paths("ec", crt, key);
	len = i2d_PUBKEY(k, &spki);
	assert_int_equal(casign_start(&cs, crt, key, 3, err, sizeof(err)), 0);
	for (i = 0; i < 6; i++) {
		jobs[i] = (struct pair_job){cs, spki, (size_t)len, i, 0};
		assert_int_equal(pthread_create(&t[i], NULL, pair_main, &jobs[i]), 0);
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(jobs[i].failures, 0);
	}
	casign_stop(cs);
	OPENSSL_free(spki);
	EVP_PKEY_free(k);
}

/* What the signer process gave up: capabilities, new privileges, files beyond its socket. */
static void signer_isolation(void **state)
{
	char crt[256], key[256], err[256], path[64], line[256];
	struct casign *cs;
	bool caps = false, nnp = false, name = false, nofile = false;
	int fds = 0;
	struct dirent *d;
	DIR *dir;
	FILE *f;
	pid_t pid;

	X509_free(make_ca("iso", &(struct ca_opts){.key = CA_EC256}));
	ca_paths("iso", crt, key);
	assert_int_equal(casign_start(&cs, crt, key, 3, err, sizeof(err)), 0);
	pid = casign_pid(cs);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		caps |= strcmp(line, "CapEff:\t0000000000000000\n") == 0;
		nnp |= strcmp(line, "NoNewPrivs:\t1\n") == 0;
		name |= strcmp(line, "Name:\tmodelux-casign\n") == 0;
	}
	fclose(f);
	assert_true(caps);
	assert_true(nnp);
	assert_true(name);

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		int soft, hard;

		if (sscanf(line, "Max open files %d %d", &soft, &hard) == 2)
			nofile = soft == 0 && hard == 0;
	}
	fclose(f);
	assert_true(nofile);

	/* stdin, stdout, stderr, the three sockets and the epoll set at most. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((d = readdir(dir)))
		fds += d->d_name[0] != '.';
	closedir(dir);
	assert_true(fds >= 4 && fds <= 7);

	/* The signer leaves when its sockets close. */
	casign_stop(cs);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void signer_death(void **state)
{
	char crt[256], key[256], err[256];
	unsigned char *spki = NULL;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct casign *cs;
	struct casign_req req;
	int len, sync[2];
	pid_t mid, signer;
	X509 *x;

	ca_paths("ec", crt, key);
	len = i2d_PUBKEY(k, &spki);

	/* Killed signer: requests fail with -EPIPE, stop still reaps. */
	assert_int_equal(casign_start(&cs, crt, key, 1, err, sizeof(err)), 0);
	assert_int_equal(kill(casign_pid(cs), SIGKILL), 0);
	req = (struct casign_req){"api.openai.com", spki, (size_t)len, 0, NULL};
	assert_int_equal(casign_sign(cs, &req, &x, err, sizeof(err)), -EPIPE);
	assert_null(x);
	assert_non_null(strstr(err, "signer"));
	casign_stop(cs);

	/* A parent that dies without casign_stop takes its signer along (PR_SET_PDEATHSIG). */
	assert_int_equal(pipe(sync), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		if (casign_start(&cs, crt, key, 1, err, sizeof(err)) < 0)
			_exit(1);
		signer = casign_pid(cs);
		if (write(sync[1], &signer, sizeof(signer)) != sizeof(signer))
			_exit(1);
		_exit(0);
	}
	close(sync[1]);
	assert_int_equal(read(sync[0], &signer, sizeof(signer)), sizeof(signer));
	close(sync[0]);
	assert_int_equal(waitpid(mid, NULL, 0), mid);
	for (int i = 0; i < 2000; i++) {
		char path[64], stat[256] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)signer);
		f = fopen(path, "r");
		if (!f)
			break; /* gone */
		if (!fgets(stat, sizeof(stat), f))
			stat[0] = '\0';
		fclose(f);
		if (strstr(stat, ") Z ")) /* dead, waiting for a reaper that may not reap */
			break;
		usleep(1000);
		if (i == 1999)
			fail_msg("signer %d outlived its parent", (int)signer);
	}
	OPENSSL_free(spki);
	EVP_PKEY_free(k);
}

static void *idle_thread(void *arg)
{
	char c;

	return read(*(int *)arg, &c, 1) < 0 ? NULL : arg;
}

/* Forking from a threaded process is refused rather than risked. */
static void start_refused_with_threads(void **state)
{
	char crt[256], key[256], err[256];
	struct casign *cs;
	pthread_t t;
	int p[2];

	ca_paths("ec", crt, key);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pthread_create(&t, NULL, idle_thread, &p[0]), 0);
	assert_int_equal(casign_start(&cs, crt, key, 1, err, sizeof(err)), -EBUSY);
	assert_null(cs);
	assert_non_null(strstr(err, "threads"));
	assert_int_equal(write(p[1], "x", 1), 1);
	pthread_join(t, NULL);
	close(p[0]);
	close(p[1]);
}

static void premint_and_timing(void **state)
{
	static const char *const names[] = {
	    "api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com",
	    "api.mistral.ai", "api.groq.com",	   "api.x.ai",
	    "openrouter.ai",  "api.deepseek.com",  "api.together.xyz",
	    "api.cohere.com", "api.perplexity.ai", "Bad.Name",
	};
	struct certmint *m = new_mint("ec", 1024);
	struct certmint_stats st;
	char err[256] = "", name[64];
	X509 *ctx;
	int i;

	assert_int_equal(certmint_premint(m, names, 12, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "entry 11"));
	certmint_get_stats(m, &st);
	assert_int_equal(st.entries, 11);
	ctx = get_ok(m, "api.perplexity.ai");
	X509_free(ctx);
	certmint_get_stats(m, &st);
	assert_int_equal(st.hits, 1);

	/* Timing is measured by `make bench`; printed here for information only. */
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "t%d.timing.example.com", i);
		ctx = get_ok(m, name);
		X509_free(ctx);
	}
	certmint_get_stats(m, &st);
	print_message("mint: mean %.1f us, max %.1f us over %llu mints\n",
		      (double)st.mint_ns_total / (double)(st.misses - st.mint_failures) / 1000.0,
		      (double)st.mint_ns_max / 1000.0,
		      (unsigned long long)(st.misses - st.mint_failures));
	certmint_free(m);
}

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_certmint.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* The CA most tests share; tests that need its certificate make it afresh. */
	X509_free(make_ca("ec", &(struct ca_opts){.key = CA_EC256}));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(leaf_verifies),
	    cmocka_unit_test(cache_hit_same),
	    cmocka_unit_test(lru_eviction),
	    cmocka_unit_test(invalid_names),
	    cmocka_unit_test(concurrent_get),
	    cmocka_unit_test(tls_handshakes),
	    cmocka_unit_test(key_opened_only_by_signer),
	    cmocka_unit_test(key_file_gone_after_start),
	    cmocka_unit_test(key_not_in_parent_memory),
	    cmocka_unit_test(other_cas),
	    cmocka_unit_test(intermediate_sent),
	    cmocka_unit_test(name_constraints_enforced),
	    cmocka_unit_test(bad_ca_files),
	    cmocka_unit_test(channels_pair_requests),
	    cmocka_unit_test(signer_isolation),
	    cmocka_unit_test(signer_death),
	    cmocka_unit_test(start_refused_with_threads),
	    cmocka_unit_test(premint_and_timing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
