/* casign_int: what the two halves of casign share: the wire format of the socketpairs between
 * the agent (casign.c) and the signer process (casign_signer.c), and the leaf content both build.
 * Nothing outside casign*.c includes this. */
#ifndef MODELUX_CASIGN_INT_H
#define MODELUX_CASIGN_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "casign.h"

#define CASIGN_REQ_MAGIC 0x6d6c7852u  /* "mlxR" */
#define CASIGN_RESP_MAGIC 0x6d6c7841u /* "mlxA" */

/* Caps on each message. A response is one leaf certificate (a few hundred bytes for ECDSA, ~1.3k
 * under an RSA-8192 CA); the ready message carries the whole CA chain file. */
#define CASIGN_REQ_MAX (sizeof(struct casign_req_hdr) + CASIGN_NAME_MAX + CASIGN_SPKI_MAX)
#define CASIGN_RESP_MAX 16384
#define CASIGN_READY_MAX 65536
#define CASIGN_ERR_MAX 512
#define CASIGN_CHAIN_MAX 8 /* certificates in the CA file */

/* How long the agent waits: start-up includes reading the key and a test signature (an
 * RSA-8192 key takes a while); a request is one signature, milliseconds at worst, and a worker
 * thread waiting on a stuck signer holds up all its connections, so it gives up early. */
#define CASIGN_START_TIMEOUT_SECS 30
#define CASIGN_SIGN_TIMEOUT_SECS 2

/* How long a request yields its CPU to the signer before sleeping on the answer: a signature
 * takes tens of microseconds, an RSA-4096 one a few milliseconds (those then sleep). */
#define CASIGN_YIELD_NS 1000000L

/* notBefore is backdated so that clients whose clock runs a little slow accept a fresh leaf. */
#define CASIGN_BACKDATE_SECS 3600

/* Serials drawn from the RNG in one call, to keep RAND_bytes off the per-request path. */
#define CASIGN_SERIAL_LEN 16
#define CASIGN_SERIAL_BATCH 64

/* X.520 upper bound for commonName; longer DNS names go in the SAN only. */
#define CASIGN_CN_MAX 64

struct casign_req_hdr {
	uint32_t magic;
	uint32_t id;	     /* echoed in the response; lets the parent skip a late answer */
	uint32_t valid_secs; /* 0 = default */
	uint16_t name_len;
	uint16_t spki_len;
};

struct casign_resp_hdr {
	uint32_t magic;
	uint32_t id;
	int32_t status; /* 0 or a negative errno */
	uint32_t len;	/* bytes following the header */
	/* With a certificate (status 0, id != 0): what the signer chose for it, so the agent can
	 * rebuild the same certificate instead of parsing it (casign.c, mirror_*). The signature
	 * is the last <sig_len> bytes of the DER. */
	int64_t not_before;
	int64_t not_after;
	uint32_t sig_len;
	unsigned char serial[CASIGN_SERIAL_LEN]; /* magnitude, as in the certificate */
};

/* casign_add_ext - add or replace extension <nid> (value <v>, critical if <crit>) in <x>.
 * Returns 0 or -ENOMEM. */
int casign_add_ext(X509 *x, int nid, void *v, int crit);

/* casign_leaf_set_name - subject CN and SAN dNSName <name> (<len> bytes) of a leaf: both the
 * signer and the agent's rebuilt copy use it, so the two encode the same bytes. A name too long
 * for a CN leaves the subject empty, which RFC 5280 allows when the SAN is critical. Returns 0
 * or -ENOMEM. */
int casign_leaf_set_name(X509 *x, const char *name, size_t len);

/* casign_signer_main - the forked child: <socks> are its ends of the <n> socketpairs; the first
 * one carries the start-up verdict. Never returns. */
void casign_signer_main(const int *socks, unsigned n, const char *cert_path, const char *key_path,
			pid_t parent) __attribute__((noreturn));

#endif
