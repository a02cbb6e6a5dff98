/* certmint: leaf certificates for intercepted names, one per SNI, minted through casign and kept
 * in an LRU cache, and the one server SSL_CTX every intercepted connection starts from. Every
 * leaf certifies the same P-256 key, generated here at start-up, so a mint costs one signature in
 * the signer plus rebuilding its answer here, and no key generation; a connection gets its
 * name's leaf put on its SSL (SSL_use_cert_and_key, a few microseconds) rather than a context of
 * its own (SSL_CTX_new alone costs ~0.1 ms on OpenSSL 3.0). */

/* The leaf key is made with the EC_KEY API, deprecated in OpenSSL 3.0 but the only way there to
 * get a key that X509_set_pubkey encodes directly: for a provider key it runs the encoder
 * framework, ~0.25 ms per certificate (see leaf_key_new). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "certmint.h"
#include "ossl_err.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "casign.h"

/* Channels to the one signer process: one per CPU, at most 8, so that threads on different
 * CPUs can each have a request in flight while the signer works through them one at a time.
 * bench/mint_bench.c measures throughput with one and with several. One process, so one copy
 * of the CA key. Overridable for that bench. */
#ifndef CERTMINT_CHANNELS
#define CERTMINT_CHANNELS 0 /* 0: one per online CPU */
#endif
#define CERTMINT_CHANNELS_MAX 8

struct certmint_entry {
	struct certmint_entry *prev, *next;	   /* LRU list, most recently used first */
	struct certmint_entry *hnext;		   /* hash bucket chain */
	X509 *leaf;				   /* the cache's reference */
	unsigned char sid[SSL_MAX_SID_CTX_LENGTH]; /* session-id context (session_context) */
	unsigned sid_len;
	uint32_t hash;
	char name[CASIGN_NAME_MAX + 1];
};

struct certmint {
	struct casign *signer;
	SSL_CTX *server_ctx;	/* what every intercepted connection's SSL is made from */
	STACK_OF(X509) * chain; /* sent after the leaf: the CA file's certificates but a root */
	EVP_PKEY *leaf_key;	/* EC_KEY-backed: see leaf_key_new */
	unsigned char *spki;	/* leaf_key's SubjectPublicKeyInfo, sent with every request */
	size_t spki_len;
	uint32_t
	    hash_seed; /* random: SNIs come off the network, bucket choice must not be steerable */
	atomic_bool offer_h2; /* select h2 when offered; off while the proxy speaks only HTTP/1.1 */

	pthread_mutex_t lock;	     /* everything below */
	struct certmint_entry *slab; /* <cap> entries allocated once */
	struct certmint_entry *free_list;
	struct certmint_entry **buckets;
	uint32_t bucket_mask;
	struct certmint_entry lru; /* sentinel: lru.next is the most recent, lru.prev the oldest */
	size_t cap;
	size_t used;
	struct certmint_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* name_hash - FNV-1a over <name>, started from the per-instance seed. */
static uint32_t name_hash(const struct certmint *m, const char *name)
{
	uint32_t h = 2166136261u ^ m->hash_seed;

	for (; *name; name++) {
		h ^= (unsigned char)*name;
		h *= 16777619u;
	}
	return h;
}

static struct certmint_entry *cache_find(struct certmint *m, const char *name, uint32_t h)
{
	struct certmint_entry *e;

	for (e = m->buckets[h & m->bucket_mask]; e; e = e->hnext)
		if (e->hash == h && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void lru_unlink(struct certmint_entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push_front(struct certmint *m, struct certmint_entry *e)
{
	e->prev = &m->lru;
	e->next = m->lru.next;
	m->lru.next->prev = e;
	m->lru.next = e;
}

static void hash_unlink(struct certmint *m, struct certmint_entry *e)
{
	struct certmint_entry **pp = &m->buckets[e->hash & m->bucket_mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
}

/* What a connection for a name is given: its leaf and its session-id context. */
struct certmint_hit {
	X509 *leaf;
	unsigned char sid[SSL_MAX_SID_CTX_LENGTH];
	unsigned sid_len;
};

/* session_context - <hit>'s session-id context for <name>. Sessions are resumed only under the
 * name they began with: every name shares one context and its ticket keys, and a session
 * resumed elsewhere would skip that name's certificate. The context is the name itself, or its
 * SHA-256 when longer than a session context may be; made once per leaf, kept with it. */
static bool session_context(const char *name, struct certmint_hit *hit)
{
	size_t len = strlen(name);

	if (len <= SSL_MAX_SID_CTX_LENGTH) {
		memcpy(hit->sid, name, len);
		hit->sid_len = (unsigned)len;
		return true;
	}
	hit->sid_len = SHA256_DIGEST_LENGTH;
	return EVP_Digest(name, len, hit->sid, NULL, EVP_sha256(), NULL) == 1;
}

/* cache_insert - a slot for <name> holding <hit> (its leaf reference passes to the cache).
 * When the cache is full the least recently used entry goes; its leaf is returned in *<drop> so
 * the caller frees it after unlocking. */
static struct certmint_entry *cache_insert(struct certmint *m, const char *name, uint32_t h,
					   const struct certmint_hit *hit, X509 **drop)
{
	struct certmint_entry *e = m->free_list;

	if (e) {
		m->free_list = e->next;
		m->used++;
	} else {
		e = m->lru.prev;
		lru_unlink(e);
		hash_unlink(m, e);
		*drop = e->leaf;
		m->st.evictions++;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->hash = h;
	e->leaf = hit->leaf;
	memcpy(e->sid, hit->sid, hit->sid_len);
	e->sid_len = hit->sid_len;
	e->hnext = m->buckets[h & m->bucket_mask];
	m->buckets[h & m->bucket_mask] = e;
	lru_push_front(m, e);
	return e;
}

/* alpn_select - h2 when the client offers it, else http/1.1, else no ALPN at all (the
 * handshake goes on; the client then speaks whatever it would without ALPN). The choice is
 * the server's, whatever the client's order, so intercepted traffic lands on h2 when it can. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	const struct certmint *m = arg;
	static const unsigned char h2[] = "h2", h11[] = "http/1.1";
	bool has_h11 = false;
	unsigned int i = 0;

	while (i < inlen) {
		unsigned int len = in[i];

		if (len == 0 || len > inlen - i - 1)
			break; /* malformed list: use what was read so far */
		if (len == 2 && memcmp(in + i + 1, h2, 2) == 0 && atomic_load(&m->offer_h2)) {
			*out = h2;
			*outlen = 2;
			return SSL_TLSEXT_ERR_OK;
		}
		if (len == 8 && memcmp(in + i + 1, h11, 8) == 0)
			has_h11 = true;
		i += 1 + len;
	}
	if (has_h11) {
		*out = h11;
		*outlen = 8;
		return SSL_TLSEXT_ERR_OK;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

/* server_ctx_new - the context every intercepted connection's SSL is made from: TLS 1.2-1.3,
 * tickets, ALPN and the shared key; each SSL then gets its name's leaf and the CA chain. One
 * context also means one set of session-ticket keys for every name. */
static SSL_CTX *server_ctx_new(struct certmint *m)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto fail;
	/* Tickets on (OpenSSL's default, stated here because resumption matters to clients that
	 * reconnect often); renegotiation off, nothing legitimate needs it. */
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (!SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"modelux", 7))
		goto fail;
	if (SSL_CTX_use_PrivateKey(ctx, m->leaf_key) != 1)
		goto fail;
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, m);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* leaf_key_new - a fresh P-256 key as an EC_KEY-backed EVP_PKEY. Such a key is "legacy" to
 * OpenSSL 3.0: X509_set_pubkey encodes it directly (~5 us) where a provider key goes through
 * the encoder framework (~0.25 ms), and casign rebuilds every leaf around it. TLS signs with
 * it through the provider, OpenSSL exporting it once and keeping the copy. */
static EVP_PKEY *leaf_key_new(void)
{
	EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
	EVP_PKEY *pkey = EVP_PKEY_new();

	if (!ec || !pkey || EC_KEY_generate_key(ec) != 1 || EVP_PKEY_assign_EC_KEY(pkey, ec) != 1) {
		EC_KEY_free(ec);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/* mint - have the signer issue a leaf for <name>. */
static int mint(struct certmint *m, const char *name, X509 **out, char *err, size_t errlen)
{
	struct casign_req req = {
	    .name = name, .spki = m->spki, .spki_len = m->spki_len, .pub = m->leaf_key};

	return casign_sign(m->signer, &req, out, err, errlen);
}

/* lookup - certmint_get with the reason as a negative errno; *<out> holds a new reference to
 * the leaf and the name's session-id context. */
static int lookup(struct certmint *m, const char *sni, struct certmint_hit *out, char *err,
		  size_t errlen)
{
	struct certmint_entry *e;
	struct certmint_hit hit = {0};
	X509 *drop = NULL;
	char why[160];
	uint64_t t0, dt;
	uint32_t h;
	int rc;

	out->leaf = NULL;
	if (!casign_name_valid(sni, why, sizeof(why))) {
		snprintf(err, errlen, "SNI refused: %s", why);
		return -EINVAL;
	}
	h = name_hash(m, sni);
	pthread_mutex_lock(&m->lock);
	e = cache_find(m, sni, h);
	if (e) {
		lru_unlink(e);
		lru_push_front(m, e);
		X509_up_ref(e->leaf);
		*out = (struct certmint_hit){.leaf = e->leaf, .sid_len = e->sid_len};
		memcpy(out->sid, e->sid, e->sid_len);
		m->st.hits++;
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	m->st.misses++;
	pthread_mutex_unlock(&m->lock);

	/* Minting takes a signer round trip: done unlocked so hits on other names are never held
	 * up behind it. */
	t0 = now_ns();
	rc = mint(m, sni, &hit.leaf, err, errlen);
	if (rc == 0 && !session_context(sni, &hit)) {
		snprintf(err, errlen, "session context: %s",
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		X509_free(hit.leaf);
		rc = -ENOMEM;
	}
	dt = now_ns() - t0;

	pthread_mutex_lock(&m->lock);
	if (rc < 0) {
		m->st.mint_failures++;
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	m->st.mint_ns_total += dt;
	if (dt > m->st.mint_ns_max)
		m->st.mint_ns_max = dt;
	e = cache_find(m, sni, h);
	if (e) {
		/* Another thread minted this name meanwhile: keep its leaf, so a name has one
		 * certificate however many threads raced for it. */
		drop = hit.leaf;
		hit.leaf = e->leaf;
		lru_unlink(e);
		lru_push_front(m, e);
	} else {
		cache_insert(m, sni, h, &hit, &drop);
	}
	X509_up_ref(hit.leaf);
	pthread_mutex_unlock(&m->lock);
	X509_free(drop);
	*out = hit;
	return 0;
}

X509 *certmint_get(struct certmint *m, const char *sni, char *err, size_t errlen)
{
	struct certmint_hit hit;

	lookup(m, sni, &hit, err, errlen);
	return hit.leaf;
}

SSL *certmint_ssl(struct certmint *m, const char *sni, char *err, size_t errlen)
{
	struct certmint_hit hit;
	char why[256];
	SSL *ssl;

	if (lookup(m, sni, &hit, err, errlen) < 0)
		return NULL;
	ssl = SSL_new(m->server_ctx);
	/* override = 1: the key is the context's already, and the chain replaces none. */
	if (!ssl || SSL_use_cert_and_key(ssl, hit.leaf, m->leaf_key, m->chain, 1) != 1 ||
	    SSL_set_session_id_context(ssl, hit.sid, hit.sid_len) != 1) {
		snprintf(err, errlen, "server connection: %s",
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		SSL_free(ssl);
		ssl = NULL;
	}
	X509_free(hit.leaf);
	return ssl;
}

int certmint_premint(struct certmint *m, const char *const *names, size_t n, char *err,
		     size_t errlen)
{
	char why[256];
	int rc = 0, r;
	size_t i;

	for (i = 0; i < n; i++) {
		struct certmint_hit hit;

		r = lookup(m, names[i], &hit, why, sizeof(why));
		X509_free(hit.leaf);
		if (r < 0 && rc == 0) {
			snprintf(err, errlen, "premint entry %zu: %s", i, why);
			rc = r;
		}
	}
	return rc;
}

void certmint_get_stats(struct certmint *m, struct certmint_stats *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->st;
	out->entries = m->used;
	out->mints_parsed = casign_parsed(m->signer);
	pthread_mutex_unlock(&m->lock);
}

/* sent_chain - the certificates of the CA file that go after each leaf, referenced: all but a
 * self-signed one. That is the root clients must already trust; sending it gains nothing and
 * costs every client a certificate to parse (~0.1 ms on OpenSSL 3.0) and the bytes.
 * Intermediates are sent. NULL when out of memory. */
static STACK_OF(X509) * sent_chain(const STACK_OF(X509) * ca_file)
{
	STACK_OF(X509) *out = sk_X509_new_null();

	for (int i = 0; out && i < sk_X509_num(ca_file); i++) {
		X509 *x = sk_X509_value(ca_file, i);

		if (X509_self_signed(x, 0) == 1)
			continue;
		if (!X509_up_ref(x))
			goto fail;
		if (!sk_X509_push(out, x)) {
			X509_free(x);
			goto fail;
		}
	}
	return out;
fail:
	sk_X509_pop_free(out, X509_free);
	return NULL;
}

struct certmint *certmint_new(const char *ca_cert_path, const char *ca_key_path,
			      unsigned cache_entries, char *err, size_t errlen)
{
	struct certmint *m;
	char why[256];
	size_t i, nb;
	long channels;
	int len;

	if (cache_entries == 0)
		cache_entries = CERTMINT_DEFAULT_ENTRIES;
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "certmint: out of memory");
		return NULL;
	}
	atomic_init(&m->offer_h2, true);
	pthread_mutex_init(&m->lock, NULL);
	m->lru.next = m->lru.prev = &m->lru;
	m->cap = cache_entries;
	for (nb = 1; nb < m->cap; nb <<= 1)
		;
	m->bucket_mask = (uint32_t)nb - 1;
	m->slab = calloc(m->cap, sizeof(*m->slab));
	m->buckets = calloc(nb, sizeof(*m->buckets));
	if (!m->slab || !m->buckets) {
		snprintf(err, errlen, "certmint: out of memory for %u entries", cache_entries);
		goto fail;
	}
	for (i = 0; i < m->cap; i++)
		m->slab[i].next = i + 1 < m->cap ? &m->slab[i + 1] : NULL;
	m->free_list = &m->slab[0];

	/* The signer first: it forks, and the process has no extra threads yet. */
	channels = CERTMINT_CHANNELS ? CERTMINT_CHANNELS : sysconf(_SC_NPROCESSORS_ONLN);
	if (channels < 1)
		channels = 1;
	if (channels > CERTMINT_CHANNELS_MAX)
		channels = CERTMINT_CHANNELS_MAX;
	if (casign_start(&m->signer, ca_cert_path, ca_key_path, (unsigned)channels, err, errlen) <
	    0)
		goto fail;
	m->leaf_key = leaf_key_new();
	if (!m->leaf_key) {
		snprintf(err, errlen, "certmint: generating the leaf key: %s",
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		goto fail;
	}
	m->chain = sent_chain(casign_chain(m->signer));
	if (!m->chain) {
		snprintf(err, errlen, "certmint: out of memory");
		goto fail;
	}
	len = i2d_PUBKEY(m->leaf_key, &m->spki);
	if (len <= 0 || RAND_bytes((unsigned char *)&m->hash_seed, sizeof(m->hash_seed)) != 1 ||
	    !(m->server_ctx = server_ctx_new(m))) {
		snprintf(err, errlen, "certmint: %s",
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		goto fail;
	}
	m->spki_len = (size_t)len;
	return m;
fail:
	certmint_free(m);
	return NULL;
}

void certmint_offer_h2(struct certmint *m, bool on)
{
	atomic_store(&m->offer_h2, on);
}

void certmint_free(struct certmint *m)
{
	struct certmint_entry *e;

	if (!m)
		return;
	for (e = m->lru.next; e && e != &m->lru; e = e->next)
		X509_free(e->leaf);
	SSL_CTX_free(m->server_ctx);
	sk_X509_pop_free(m->chain, X509_free);
	casign_stop(m->signer);
	EVP_PKEY_free(m->leaf_key);
	OPENSSL_free(m->spki);
	free(m->slab);
	free(m->buckets);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
