/* certmint: server side of TLS interception. Owns the shared leaf key, the one server SSL_CTX,
 * the LRU cache of minted leaf certificates (one per SNI) and the casign signer it starts;
 * callers get their own SSLs, or referenced leaves. */
#ifndef MODELUX_CERTMINT_H
#define MODELUX_CERTMINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Cache size when certmint_new() is given 0. */
#define CERTMINT_DEFAULT_ENTRIES 1024

struct certmint;

struct certmint_stats {
	uint64_t hits;		/* certmint_get answered from the cache */
	uint64_t misses;	/* certmint_get had to mint (successfully or not) */
	uint64_t mint_failures; /* mints that failed: the signer refused or broke */
	uint64_t mints_parsed;	/* mints whose answer was parsed, not rebuilt (casign_parsed) */
	uint64_t mint_ns_total; /* wall time of successful mints, signer round trip included */
	uint64_t mint_ns_max;
	uint64_t evictions; /* entries dropped to make room */
	uint64_t entries;   /* names cached now */
};

/* certmint_new - start a casign signer for the CA in <ca_cert_path> / <ca_key_path> (see
 * casign_start: call before the process starts threads), generate the P-256 key every leaf
 * shares, and set up a cache of <cache_entries> names (0 = CERTMINT_DEFAULT_ENTRIES).
 * Returns NULL with <err> filled on failure. */
struct certmint *certmint_new(const char *ca_cert_path, const char *ca_key_path,
			      unsigned cache_entries, char *err, size_t errlen);

/* certmint_offer_h2 - whether ALPN selects "h2" when a client offers it (default yes). The
 * agent turns it off while its proxy speaks only HTTP/1.1 to clients. */
void certmint_offer_h2(struct certmint *m, bool on);

/* certmint_free - stop the signer and drop the cache's references; SSLs and leaves callers
 * still hold stay valid until they free them. NULL is a no-op. */
void certmint_free(struct certmint *m);

/* certmint_ssl - a server SSL for SNI <sni>: the shared context (TLS 1.2-1.3, session tickets,
 * ALPN choosing "h2" when offered, else "http/1.1", else none) with <sni>'s leaf and the CA
 * file's intermediates (a self-signed root is not sent). <sni> must already be a lowercase DNS name
 * (casign_name_valid); anything else is refused, not fixed up. Mints the leaf on a miss (outside
 * the cache lock; two threads racing on one name both mint and one result is kept). Thread-safe.
 * Returns a new SSL (caller SSL_free's it), or NULL with <err> filled. */
SSL *certmint_ssl(struct certmint *m, const char *sni, char *err, size_t errlen);

/* certmint_get - the leaf for <sni>, minted on a miss as for certmint_ssl. Returns a new
 * reference (caller X509_free's it), or NULL with <err> filled. */
X509 *certmint_get(struct certmint *m, const char *sni, char *err, size_t errlen);

/* certmint_premint - certmint_get and release each of <names> (<n> of them), e.g. the provider
 * names at start-up so their first connections find a ready context. Goes on after a failure;
 * returns 0, or the first failure's negative errno with <err> naming the entry. More names than
 * the cache holds evict the earliest ones. */
int certmint_premint(struct certmint *m, const char *const *names, size_t n, char *err,
		     size_t errlen);

/* certmint_get_stats - a consistent snapshot of the counters. */
void certmint_get_stats(struct certmint *m, struct certmint_stats *out);

#endif
