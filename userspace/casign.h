/* casign: privilege-separated leaf-certificate signer. Owns the signer process (the only one
 * that ever loads the CA private key) and the agent's ends of its socketpairs; borrows nothing. */
#ifndef MODELUX_CASIGN_H
#define MODELUX_CASIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/* Longest DNS name the signer accepts (RFC 1035 text form without the trailing dot). */
#define CASIGN_NAME_MAX 253

/* Largest leaf public key (DER SubjectPublicKeyInfo) a request may carry: RSA-8192 fits. */
#define CASIGN_SPKI_MAX 2048

/* Leaf lifetime when the request asks for none, and the most it may ask for. notAfter never
 * passes the CA's own notAfter. */
#define CASIGN_VALID_DEFAULT_SECS (30u * 24 * 3600)

/* Most channels (socketpairs) to the signer one casign may have. */
#define CASIGN_MAX_CHANNELS 16

struct casign;

/* casign_start - fork the signer process. It alone reads <ca_cert_path> (PEM: the issuing CA
 * first, optionally followed by the rest of its chain) and <ca_key_path> (PEM, unencrypted EC
 * P-256/P-384, RSA >= 2048 or Ed25519), checks that they belong together and that the
 * certificate is a usable CA, then answers signing requests on <nchannels> socketpairs
 * (1 .. CASIGN_MAX_CHANNELS) until the agent closes them all or dies. The agent never opens
 * the key file. One channel serves one request at a time; more channels let that many threads
 * have a request in flight (the signer still signs one after the other).
 * Must be called while the process has a single thread: a fork from a threaded process could
 * inherit a lock another thread holds inside OpenSSL. Returns 0 and sets *<out>, or a negative
 * errno with <err> filled (the signer's own message when it refused the files). */
int casign_start(struct casign **out, const char *ca_cert_path, const char *ca_key_path,
		 unsigned nchannels, char *err, size_t errlen);

/* One signing request. The signer chooses the random serial itself: the agent cannot ask for a
 * duplicate or a chosen one. */
struct casign_req {
	const char *name;	   /* DNS name for subject CN and SAN (casign_name_valid) */
	const unsigned char *spki; /* leaf public key, DER SubjectPublicKeyInfo */
	size_t spki_len;
	uint32_t valid_secs; /* 0 = CASIGN_VALID_DEFAULT_SECS; larger values are cut to it */
	/* Optional: the same public key as an EVP_PKEY that X509_set_pubkey encodes without
	 * OpenSSL 3.0's encoder (a key built with the EC_KEY API; see certmint.c). With it the
	 * answer is rebuilt in memory from the fields the signer sends, instead of parsed:
	 * d2i_X509 costs ~0.1 ms on OpenSSL 3.0, most of it building a decoder for the key. The
	 * same caller must always pass the same key. */
	EVP_PKEY *pub;
};

/* casign_sign - have the signer issue a TLS server certificate for <req>. Thread-safe: callers
 * share the channels. Returns 0 and a new certificate in *<out> (caller X509_free's it), or a
 * negative errno with <err> filled: -EINVAL for a name or key the signer refuses, -EPERM for a
 * name outside the CA's name constraints, -EPIPE when the signer is gone, -ETIMEDOUT. */
int casign_sign(struct casign *cs, const struct casign_req *req, X509 **out, char *err,
		size_t errlen);

/* casign_rebuilt / casign_parsed - how many certificates casign_sign rebuilt in memory, and how
 * many it had to parse (no <pub>, the first one, or a rebuilt copy that differed). */
uint64_t casign_rebuilt(const struct casign *cs);
uint64_t casign_parsed(const struct casign *cs);

/* casign_chain - the CA certificate file's certificates, issuing CA first, as the signer read
 * them. Borrowed: valid until casign_stop(). */
STACK_OF(X509) * casign_chain(const struct casign *cs);

/* casign_pid - the signer's process id (tests and status output). */
int casign_pid(const struct casign *cs);

/* casign_stop - close the sockets (the signer exits on EOF), reap the signer, free <cs>.
 * NULL is a no-op. */
void casign_stop(struct casign *cs);

/* casign_name_valid - whether <name> is a name the signer will certify: lowercase LDH labels of
 * 1..63 characters joined by single dots, at most CASIGN_NAME_MAX characters, no trailing dot,
 * no wildcard, and a last label that is not all digits (an IPv4 literal is not a DNS name).
 * On false <err> says why without echoing the name's bytes (they may come off the network). */
bool casign_name_valid(const char *name, char *err, size_t errlen);

#endif
