/* casign_signer: the signer process, forked by casign_start, the only process that ever reads
 * the CA private key. It gives up what it does not need, loads the CA, then answers leaf
 * requests from the agent until the agent closes the sockets or dies. See casign.c for the wire
 * format and the agent's side. */
#include "casign_int.h"
#include "ossl_err.h"

#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------------------------------------ */
/* Signer process                                                                              */

/* Everything the signer keeps between requests. The leaf template is reused: a request only
 * changes serial, validity, subject, SAN and (when the key differs from the last one) the public
 * key and its identifier, so nothing is parsed or built twice. */
struct casign_signer {
	X509 *ca;
	EVP_PKEY *key;
	const EVP_MD *md; /* NULL for Ed25519, which hashes internally */
	STACK_OF(X509) * chain;
	NAME_CONSTRAINTS
	    *ncs[CASIGN_CHAIN_MAX]; /* constraints in the chain, checked before signing */
	int nncs;
	time_t ca_not_before;
	time_t ca_not_after;
	X509 *tmpl;
	EVP_MD_CTX *mctx;
	ASN1_INTEGER *serial;
	unsigned char serials[CASIGN_SERIAL_LEN * CASIGN_SERIAL_BATCH];
	size_t serial_next; /* index into serials; == batch means refill */
	unsigned char last_spki[CASIGN_SPKI_MAX];
	size_t last_spki_len;
	unsigned char req[CASIGN_REQ_MAX + 1];
	unsigned char resp[CASIGN_READY_MAX];
};

/* pem_no_password - refuse encrypted keys instead of letting OpenSSL prompt on a terminal. */
static int pem_no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static int asn1_time_to_unix(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

/* key_id - RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits of <pub>. */
static ASN1_OCTET_STRING *key_id(X509_PUBKEY *pub)
{
	const unsigned char *bits;
	int bits_len;
	unsigned char md[SHA_DIGEST_LENGTH];
	ASN1_OCTET_STRING *oct;

	if (!pub || X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, pub) != 1)
		return NULL;
	if (!EVP_Digest(bits, (size_t)bits_len, md, NULL, EVP_sha1(), NULL))
		return NULL;
	oct = ASN1_OCTET_STRING_new();
	if (oct && !ASN1_OCTET_STRING_set(oct, md, sizeof(md))) {
		ASN1_OCTET_STRING_free(oct);
		oct = NULL;
	}
	return oct;
}

/* signer_pick_md - the digest for signatures by <key>: SHA-256, or the one matching a larger EC
 * curve so the signature is not weaker than the key. */
static int signer_pick_md(EVP_PKEY *key, const EVP_MD **md, char *err, size_t errlen)
{
	int bits = EVP_PKEY_get_bits(key);

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_EC:
		*md = bits >= 512 ? EVP_sha512() : bits >= 384 ? EVP_sha384() : EVP_sha256();
		return 0;
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		if (bits < 2048) {
			snprintf(err, errlen,
				 "CA key: RSA key of %d bits is too small (need >= 2048)", bits);
			return -EINVAL;
		}
		*md = EVP_sha256();
		return 0;
	case EVP_PKEY_ED25519:
		*md = NULL;
		return 0;
	default:
		snprintf(err, errlen, "CA key: unsupported key type %s (use EC, RSA or Ed25519)",
			 OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
		return -EINVAL;
	}
}

/* signer_load - read and check the CA chain and key into <s>. */
static int signer_load(struct casign_signer *s, const char *cert_path, const char *key_path,
		       char *err, size_t errlen)
{
	char why[256];
	BIO *bio;
	X509 *x;
	uint32_t ex;
	time_t now = time(NULL);
	int i;

	bio = BIO_new_file(cert_path, "r");
	if (!bio) {
		snprintf(err, errlen, "CA certificate %s: %s", cert_path,
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		return -ENOENT;
	}
	s->chain = sk_X509_new_null();
	while (s->chain && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(s->chain, x)) {
			X509_free(x);
			break;
		}
	}
	BIO_free(bio);
	ERR_clear_error(); /* the read loop always ends on "no start line" */
	if (!s->chain || sk_X509_num(s->chain) == 0) {
		snprintf(err, errlen, "CA certificate %s: no PEM certificate in the file",
			 cert_path);
		return -EINVAL;
	}
	if (sk_X509_num(s->chain) > CASIGN_CHAIN_MAX) {
		snprintf(err, errlen, "CA certificate %s: more than %d certificates", cert_path,
			 CASIGN_CHAIN_MAX);
		return -EINVAL;
	}
	s->ca = sk_X509_value(s->chain, 0);

	bio = BIO_new_file(key_path, "r");
	if (!bio) {
		snprintf(err, errlen, "CA key %s: %s", key_path,
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		return -ENOENT;
	}
	s->key = PEM_read_bio_PrivateKey(bio, NULL, pem_no_password, NULL);
	BIO_free(bio);
	if (!s->key) {
		snprintf(err, errlen, "CA key %s: not an unencrypted PEM private key (%s)",
			 key_path, ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		return -EINVAL;
	}
	if (signer_pick_md(s->key, &s->md, err, errlen) < 0)
		return -EINVAL;

	ex = X509_get_extension_flags(s->ca);
	if (!(ex & EXFLAG_CA)) {
		snprintf(err, errlen, "CA certificate %s: not a CA (no basicConstraints CA:TRUE)",
			 cert_path);
		return -EINVAL;
	}
	if ((ex & EXFLAG_KUSAGE) && !(X509_get_key_usage(s->ca) & KU_KEY_CERT_SIGN)) {
		snprintf(err, errlen, "CA certificate %s: keyUsage lacks keyCertSign", cert_path);
		return -EINVAL;
	}
	if (X509_check_private_key(s->ca, s->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "CA key %s does not match the certificate %s", key_path,
			 cert_path);
		return -EINVAL;
	}
	if (asn1_time_to_unix(X509_get0_notBefore(s->ca), &s->ca_not_before) < 0 ||
	    asn1_time_to_unix(X509_get0_notAfter(s->ca), &s->ca_not_after) < 0) {
		snprintf(err, errlen, "CA certificate %s: unreadable validity dates", cert_path);
		return -EINVAL;
	}
	if (s->ca_not_after <= now) {
		snprintf(err, errlen, "CA certificate %s has expired", cert_path);
		return -EINVAL;
	}

	/* Name constraints anywhere in the chain: a leaf outside them would be rejected by every
	 * client, so refuse to sign it and say why instead. */
	for (i = 0; i < sk_X509_num(s->chain); i++) {
		NAME_CONSTRAINTS *nc =
		    X509_get_ext_d2i(sk_X509_value(s->chain, i), NID_name_constraints, NULL, NULL);
		int j;

		if (!nc)
			continue;
		s->ncs[s->nncs++] = nc;
		/* A leaf's subject is just CN=<name>; it cannot sit inside a permitted directory
		 * subtree, so every leaf would fail. Say so now rather than on every mint. */
		for (j = 0; j < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); j++) {
			if (sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, j)->base->type ==
			    GEN_DIRNAME) {
				snprintf(
				    err, errlen,
				    "CA certificate %s: name constraints permit only some "
				    "directory names; leaves (subject CN=<name>) would not verify",
				    cert_path);
				return -EINVAL;
			}
		}
	}
	ERR_clear_error();
	return 0;
}

/* signer_template - the fixed part of every leaf: version, issuer, basicConstraints CA:FALSE,
 * keyUsage digitalSignature (both critical), EKU serverAuth and the CA's key identifier. */
static int signer_template(struct casign_signer *s)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *ca_skid = X509_get0_subject_key_id(s->ca);
	int rc = -ENOMEM;

	s->tmpl = X509_new();
	s->mctx = EVP_MD_CTX_new();
	s->serial = ASN1_INTEGER_new();
	if (!s->tmpl || !s->mctx || !s->serial || !bc || !ku || !eku || !akid)
		goto out;
	if (!X509_set_version(s->tmpl, X509_VERSION_3) ||
	    !X509_set_issuer_name(s->tmpl, X509_get_subject_name(s->ca)))
		goto out;
	bc->ca = 0;
	if (!ASN1_BIT_STRING_set_bit(ku, 0, 1)) /* bit 0 = digitalSignature */
		goto out;
	if (!sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)))
		goto out;
	akid->keyid =
	    ca_skid ? ASN1_OCTET_STRING_dup(ca_skid) : key_id(X509_get_X509_PUBKEY(s->ca));
	if (!akid->keyid)
		goto out;
	if (casign_add_ext(s->tmpl, NID_basic_constraints, bc, 1) < 0 ||
	    casign_add_ext(s->tmpl, NID_key_usage, ku, 1) < 0 ||
	    casign_add_ext(s->tmpl, NID_ext_key_usage, eku, 0) < 0 ||
	    casign_add_ext(s->tmpl, NID_authority_key_identifier, akid, 0) < 0)
		goto out;
	s->serial_next = CASIGN_SERIAL_BATCH;
	rc = 0;
out:
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	AUTHORITY_KEYID_free(akid);
	return rc;
}

/* signer_set_key - put the leaf public key <spki> and its key identifier in the template,
 * unless it is the key of the previous request (the agent uses one key for every leaf). */
static int signer_set_key(struct casign_signer *s, const unsigned char *spki, size_t spki_len,
			  char *err, size_t errlen)
{
	const unsigned char *p = spki;
	EVP_PKEY *pub;
	ASN1_OCTET_STRING *skid;
	char group[32] = "";
	int type, bits, rc;

	if (spki_len == s->last_spki_len && memcmp(spki, s->last_spki, spki_len) == 0)
		return 0;
	s->last_spki_len = 0;
	pub = d2i_PUBKEY(NULL, &p, (long)spki_len);
	if (!pub || p != spki + spki_len) {
		EVP_PKEY_free(pub);
		ERR_clear_error();
		snprintf(err, errlen, "leaf public key is not one DER SubjectPublicKeyInfo");
		return -EINVAL;
	}
	/* Only keys a TLS client accepts from a server: P-256, P-384, RSA >= 2048, Ed25519. */
	type = EVP_PKEY_get_base_id(pub);
	bits = EVP_PKEY_get_bits(pub);
	if (type == EVP_PKEY_EC && EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL) != 1)
		group[0] = '\0';
	if (!(type == EVP_PKEY_ED25519 || (type == EVP_PKEY_RSA && bits >= 2048) ||
	      (type == EVP_PKEY_EC &&
	       (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0)))) {
		EVP_PKEY_free(pub);
		snprintf(err, errlen, "leaf public key %s of %d bits not accepted",
			 OBJ_nid2sn(type), bits);
		return -EINVAL;
	}
	rc = X509_set_pubkey(s->tmpl, pub) == 1 ? 0 : -ENOMEM;
	EVP_PKEY_free(pub);
	if (rc < 0)
		return rc;
	skid = key_id(X509_get_X509_PUBKEY(s->tmpl));
	rc = skid ? casign_add_ext(s->tmpl, NID_subject_key_identifier, skid, 0) : -ENOMEM;
	ASN1_OCTET_STRING_free(skid);
	if (rc < 0)
		return rc;
	memcpy(s->last_spki, spki, spki_len);
	s->last_spki_len = spki_len;
	return 0;
}

static int signer_next_serial(struct casign_signer *s)
{
	unsigned char *p;

	if (s->serial_next >= CASIGN_SERIAL_BATCH) {
		if (RAND_bytes(s->serials, sizeof(s->serials)) != 1)
			return -EIO;
		s->serial_next = 0;
	}
	p = s->serials + s->serial_next++ * CASIGN_SERIAL_LEN;
	if (p[0] == 0) /* keep the full 16 octets so the encoding length never varies */
		p[0] = 1;
	/* ASN1_INTEGER content is the magnitude; i2d adds the sign octet when the top bit is set.
	 */
	if (!ASN1_STRING_set(s->serial, p, CASIGN_SERIAL_LEN))
		return -ENOMEM;
	OPENSSL_cleanse(p, CASIGN_SERIAL_LEN);
	return X509_set_serialNumber(s->tmpl, s->serial) == 1 ? 0 : -ENOMEM;
}

/* ascii_ieq - case-insensitive equality of <n> bytes (constraints may be written in any case;
 * names are already lowercase). */
static bool ascii_ieq(const char *a, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

/* dns_in_subtree - RFC 5280 4.2.1.10: <name> is in dNSName subtree <c> when it is <c> or ends
 * in "." + <c>; a constraint written with a leading dot (".example.com") admits subdomains
 * only, as OpenSSL reads it; an empty one admits every name. */
static bool dns_in_subtree(const char *name, size_t len, const ASN1_IA5STRING *c)
{
	const unsigned char *b = ASN1_STRING_get0_data(c);
	size_t blen = (size_t)ASN1_STRING_length(c);

	if (blen == 0)
		return true;
	if (b[0] == '.')
		return len > blen && ascii_ieq(name + len - blen, b, blen);
	if (len == blen)
		return ascii_ieq(name, b, len);
	return len > blen && name[len - blen - 1] == '.' && ascii_ieq(name + len - blen, b, blen);
}

/* nc_allows - whether dNSName <name> passes <nc>: inside a permitted DNS subtree when there
 * are any, and inside no excluded one. Done here rather than with NAME_CONSTRAINTS_check,
 * which reads the certificate's cached SAN, stale on a reused template. */
static bool nc_allows(const NAME_CONSTRAINTS *nc, const char *name, size_t len)
{
	bool any = false, in = false;
	int i;

	for (i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
		GENERAL_NAME *b = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i)->base;

		if (b->type == GEN_DNS) {
			any = true;
			in |= dns_in_subtree(name, len, b->d.dNSName);
		}
	}
	if (any && !in)
		return false;
	for (i = 0; i < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); i++) {
		GENERAL_NAME *b = sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, i)->base;

		if (b->type == GEN_DNS && dns_in_subtree(name, len, b->d.dNSName))
			return false;
	}
	return true;
}

/* signer_issue - build and sign one leaf; the DER goes to <out> (<outcap> bytes), its length
 * and what the agent needs to rebuild it (validity, serial, signature length) to <rh>.
 * <check_nc> is false only for the start-up self-test, whose made-up name is outside any
 * constraint. */
static int signer_issue(struct casign_signer *s, const char *name, size_t name_len,
			const unsigned char *spki, size_t spki_len, uint32_t valid_secs,
			bool check_nc, unsigned char *out, size_t outcap,
			struct casign_resp_hdr *rh, char *err, size_t errlen)
{
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	char why[256];
	time_t now = time(NULL), nb, na;
	unsigned char *p;
	int len, rc, i;

	if (valid_secs == 0 || valid_secs > CASIGN_VALID_DEFAULT_SECS)
		valid_secs = CASIGN_VALID_DEFAULT_SECS;
	nb = now - CASIGN_BACKDATE_SECS;
	if (nb < s->ca_not_before)
		nb = s->ca_not_before;
	na = now + (time_t)valid_secs;
	if (na > s->ca_not_after)
		na = s->ca_not_after;
	if (na <= now) {
		snprintf(err, errlen, "CA certificate has expired");
		return -EKEYEXPIRED;
	}
	for (i = 0; check_nc && i < s->nncs; i++) {
		if (!nc_allows(s->ncs[i], name, name_len)) {
			snprintf(err, errlen, "name is outside the CA's name constraints");
			return -EPERM;
		}
	}
	rc = signer_set_key(s, spki, spki_len, err, errlen);
	if (rc < 0)
		return rc;
	if (casign_leaf_set_name(s->tmpl, name, name_len) < 0 || signer_next_serial(s) < 0 ||
	    !ASN1_TIME_set(X509_getm_notBefore(s->tmpl), nb) ||
	    !ASN1_TIME_set(X509_getm_notAfter(s->tmpl), na)) {
		snprintf(err, errlen, "building the certificate: %s",
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		return -ENOMEM;
	}
	/* X509_sign_ctx marks the to-be-signed part modified, so the reused template is
	 * re-encoded with this request's fields before it is signed. */
	if (EVP_MD_CTX_reset(s->mctx) != 1 ||
	    EVP_DigestSignInit(s->mctx, NULL, s->md, NULL, s->key) != 1 ||
	    X509_sign_ctx(s->tmpl, s->mctx) <= 0) {
		snprintf(err, errlen, "signing: %s",
			 ossl_err_text(why, sizeof(why), "unknown OpenSSL error"));
		return -EIO;
	}
	len = i2d_X509(s->tmpl, NULL);
	if (len <= 0 || (size_t)len > outcap) {
		snprintf(err, errlen, "certificate does not fit the response (%d bytes)", len);
		return -EMSGSIZE;
	}
	p = out;
	i2d_X509(s->tmpl, &p);
	X509_get0_signature(&sig, &alg, s->tmpl);
	rh->len = (uint32_t)len;
	rh->not_before = (int64_t)nb;
	rh->not_after = (int64_t)na;
	rh->sig_len = (uint32_t)ASN1_STRING_length(sig);
	memcpy(rh->serial, ASN1_STRING_get0_data(s->serial), CASIGN_SERIAL_LEN);
	return 0;
}

/* signer_send_hdr - <h> (its magic and length set here) followed by <len> bytes of <data>. */
static void signer_send_hdr(int sock, struct casign_resp_hdr *h, const void *data, size_t len)
{
	struct iovec iov[2] = {{h, sizeof(*h)}, {(void *)data, len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

	h->magic = CASIGN_RESP_MAGIC;
	h->len = (uint32_t)len;
	/* A failed send means the parent is gone; the next recv sees EOF and ends the loop. */
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* signer_send - an answer without a certificate: the ready message or an error text. */
static void signer_send(int sock, uint32_t id, int32_t status, const void *data, size_t len)
{
	struct casign_resp_hdr h = {.id = id, .status = status};

	signer_send_hdr(sock, &h, data, len);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* signer_isolate - what the signer gives up before it touches the key: every inherited fd but
 * its sockets, core dumps and ptrace (PR_SET_DUMPABLE 0), the parent's signal handlers, and its
 * life once the parent dies. */
static void signer_isolate(const int *socks, unsigned n, pid_t parent)
{
	static const int ignore[] = {SIGINT, SIGHUP, SIGPIPE, SIGQUIT};
	static const int dfl[] = {SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD};
	struct rlimit zero = {0, 0};
	int keep[CASIGN_MAX_CHANNELS];
	unsigned from = 3, i;
	sigset_t all;

	/* SIGKILL, not SIGTERM: a blocked or ignored signal would leave a key holder behind. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	prctl(PR_SET_NAME, "modelux-casign");
	setrlimit(RLIMIT_CORE, &zero);

	/* Interactive signals meant for the agent (^C, a reload's SIGHUP) must not end the
	 * signer; SIGTERM still does, and EOF on the sockets is the normal way out. */
	for (i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++)
		signal(ignore[i], SIG_IGN);
	for (i = 0; i < sizeof(dfl) / sizeof(dfl[0]); i++)
		signal(dfl[i], SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	/* Listening sockets, client connections, BPF maps: none of it is the signer's business.
	 * Close every fd from 3 up except the sockets, gap by gap. */
	memcpy(keep, socks, n * sizeof(*keep));
	qsort(keep, n, sizeof(*keep), cmp_int);
	for (i = 0; i < n; i++) {
		if ((unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from &&
		    syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0u) < 0)
			_exit(1);
		from = (unsigned)keep[i] + 1;
	}
	if (syscall(SYS_close_range, from, ~0u, 0u) < 0)
		_exit(1);
}

/* signer_lock_down - after the key is loaded: no capabilities, and no new files or processes. */
static int signer_lock_down(char *err, size_t errlen)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	struct rlimit zero = {0, 0};

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0) {
		snprintf(err, errlen, "signer: dropping capabilities: %s", strerror(errno));
		return -errno;
	}
	if (setrlimit(RLIMIT_NOFILE, &zero) < 0 || setrlimit(RLIMIT_FSIZE, &zero) < 0 ||
	    setrlimit(RLIMIT_NPROC, &zero) < 0) {
		snprintf(err, errlen, "signer: setting resource limits: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* signer_ready - send the chain as concatenated DER certificates. */
static int signer_ready(struct casign_signer *s, int sock, char *err, size_t errlen)
{
	size_t off = 0;
	int i;

	for (i = 0; i < sk_X509_num(s->chain); i++) {
		X509 *x = sk_X509_value(s->chain, i);
		int len = i2d_X509(x, NULL);
		unsigned char *p = s->resp + off;

		if (len <= 0 || (size_t)len > sizeof(s->resp) - off) {
			snprintf(err, errlen, "CA chain larger than %d bytes", CASIGN_READY_MAX);
			return -EMSGSIZE;
		}
		i2d_X509(x, &p);
		off += (size_t)len;
	}
	signer_send(sock, 0, 0, s->resp, off);
	return 0;
}

/* signer_answer - read and answer one request from <sock>. Returns false once the parent has
 * closed that socket (or it broke). */
static bool signer_answer(struct casign_signer *s, int sock)
{
	char err[CASIGN_ERR_MAX], name[CASIGN_NAME_MAX + 1];
	struct casign_req_hdr h;
	struct casign_resp_hdr rh = {0};
	ssize_t n;
	int rc;

	do
		n = recv(sock, s->req, sizeof(s->req), MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK;
	if (n == 0)
		return false;
	if ((size_t)n < sizeof(h))
		return true; /* too short to carry an id: nothing sensible to answer */
	memcpy(&h, s->req, sizeof(h));
	if (h.magic != CASIGN_REQ_MAGIC || (size_t)n > CASIGN_REQ_MAX ||
	    (size_t)n != sizeof(h) + h.name_len + h.spki_len || h.name_len > CASIGN_NAME_MAX ||
	    h.spki_len == 0 || h.spki_len > CASIGN_SPKI_MAX) {
		snprintf(err, sizeof(err), "malformed request (%zd bytes)", n);
		signer_send(sock, h.id, -EBADMSG, err, strlen(err));
		return true;
	}
	memcpy(name, s->req + sizeof(h), h.name_len);
	name[h.name_len] = '\0';
	/* The parent validated the name too; checking again here means a compromised agent still
	 * cannot get a certificate for a name with a NUL, a wildcard or an IP address in it. */
	if (strlen(name) != h.name_len) {
		snprintf(err, sizeof(err), "name contains a NUL byte");
		signer_send(sock, h.id, -EINVAL, err, strlen(err));
		return true;
	}
	if (!casign_name_valid(name, err, sizeof(err))) {
		signer_send(sock, h.id, -EINVAL, err, strlen(err));
		return true;
	}
	rc = signer_issue(s, name, h.name_len, s->req + sizeof(h) + h.name_len, h.spki_len,
			  h.valid_secs, true, s->resp, CASIGN_RESP_MAX, &rh, err, sizeof(err));
	if (rc < 0) {
		signer_send(sock, h.id, rc, err, strlen(err));
	} else {
		rh.id = h.id;
		signer_send_hdr(sock, &rh, s->resp, rh.len);
	}
	return true;
}

/* signer_watch - an epoll set of the <n> sockets, made before the file limit drops to zero
 * (epoll_wait, unlike poll, does not count its fds against RLIMIT_NOFILE). */
static int signer_watch(const int *socks, unsigned n, char *err, size_t errlen)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	unsigned i;

	for (i = 0; ep >= 0 && i < n; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = socks[i]};

		if (epoll_ctl(ep, EPOLL_CTL_ADD, socks[i], &ev) < 0) {
			close(ep);
			ep = -1;
		}
	}
	if (ep < 0) {
		snprintf(err, errlen, "signer: epoll: %s", strerror(errno));
		return -errno;
	}
	return ep;
}

/* signer_serve - answer requests on the sockets in epoll set <ep>, one at a time, until the
 * parent has closed all <n> of them. */
static void signer_serve(struct casign_signer *s, int ep, unsigned n)
{
	struct epoll_event ev[CASIGN_MAX_CHANNELS];
	unsigned open = n;
	int i, k;

	while (open > 0) {
		k = epoll_wait(ep, ev, CASIGN_MAX_CHANNELS, -1);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (i = 0; i < k; i++) {
			if (!signer_answer(s, ev[i].data.fd)) {
				close(ev[i].data.fd); /* leaves the epoll set with it */
				open--;
			}
		}
	}
}

/* signer_self_test - sign a throwaway leaf for a fresh P-256 key: proves the CA key signs, and
 * leaves OpenSSL's lazily loaded parts loaded before the file limit drops to zero. */
static int signer_self_test(struct casign_signer *s, char *err, size_t errlen)
{
	static const char name[] = "casign.self-test.invalid";
	EVP_PKEY *k = EVP_EC_gen("P-256");
	unsigned char *spki = NULL;
	struct casign_resp_hdr rh = {0};
	int len, rc = -ENOMEM;

	len = k ? i2d_PUBKEY(k, &spki) : -1;
	if (len > 0)
		rc = signer_issue(s, name, sizeof(name) - 1, spki, (size_t)len, 0, false, s->resp,
				  CASIGN_RESP_MAX, &rh, err, errlen);
	if (rc == -ENOMEM && !err[0])
		snprintf(err, errlen, "signer self-test: out of memory");
	OPENSSL_free(spki);
	EVP_PKEY_free(k);
	s->last_spki_len = 0;
	return rc;
}

void casign_signer_main(const int *socks, unsigned n, const char *cert_path, const char *key_path,
			pid_t parent)
{
	/* Static: the buffers are large, and the child has nothing else to do with its memory. */
	static struct casign_signer s;
	char err[CASIGN_ERR_MAX] = "";
	int rc, ep = -1;

	signer_isolate(socks, n, parent);
	/* Private-key numbers in the locked, guarded secure heap when it can be had (needs
	 * RLIMIT_MEMLOCK headroom); without it they sit in the ordinary heap of this process. */
	CRYPTO_secure_malloc_init(64 * 1024, 64);

	rc = signer_load(&s, cert_path, key_path, err, sizeof(err));
	if (rc == 0 && (rc = signer_template(&s)) < 0)
		snprintf(err, sizeof(err), "signer: out of memory");
	if (rc == 0)
		rc = signer_self_test(&s, err, sizeof(err));
	if (rc == 0) {
		ep = signer_watch(socks, n, err, sizeof(err));
		rc = ep < 0 ? ep : 0;
	}
	if (rc == 0)
		rc = signer_lock_down(err, sizeof(err));
	if (rc == 0)
		rc = signer_ready(&s, socks[0], err, sizeof(err));
	if (rc < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "signer: start-up failed: %s", strerror(-rc));
		signer_send(socks[0], 0, rc, err, strlen(err));
		_exit(1);
	}
	signer_serve(&s, ep, n);
	_exit(0);
}
