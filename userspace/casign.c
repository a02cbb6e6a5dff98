/* casign: the CA private key lives only in one small signer process forked at start-up; the
 * agent asks it for leaf certificates over a few SOCK_SEQPACKET socketpairs ("channels") and
 * never sees the key.
 *
 * Wire format (both ends are this file, same host, so native byte order):
 *   request  = struct casign_req_hdr, name bytes (no NUL), leaf SubjectPublicKeyInfo DER
 *   response = struct casign_resp_hdr, then the certificate DER (status 0) or an error text
 * The first message on channel 0 is the signer's "ready" response (id 0): the CA chain as
 * concatenated DER certificates, or the reason it refused to start. SEQPACKET keeps each message
 * whole, so neither side needs framing beyond the header's length checks.
 *
 * The file has two halves: the signer process (everything named signer_*), which runs only in
 * the forked child, and the agent's side (casign_*), which never touches the key. */
#include "casign_int.h"
#include "ossl_err.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------------------------------------ */
/* Names                                                                                       */

bool casign_name_valid(const char *name, char *err, size_t errlen)
{
	size_t len, label = 0, i;
	bool all_digits = true;

	if (!name || !*name) {
		snprintf(err, errlen, "empty name");
		return false;
	}
	len = strnlen(name, CASIGN_NAME_MAX + 1);
	if (len > CASIGN_NAME_MAX) {
		snprintf(err, errlen, "name longer than %d characters", CASIGN_NAME_MAX);
		return false;
	}
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.' || c == '\0') {
			if (label == 0) {
				snprintf(err, errlen, "empty label at offset %zu", i);
				return false;
			}
			if (name[i - 1] == '-') {
				snprintf(err, errlen, "label ends with '-' at offset %zu", i - 1);
				return false;
			}
			if (c == '\0')
				break;
			label = 0;
			all_digits = true;
			continue;
		}
		if (c >= 'A' && c <= 'Z') {
			snprintf(err, errlen,
				 "upper-case letter at offset %zu (names must be lowercased)", i);
			return false;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			snprintf(err, errlen,
				 "character 0x%02x at offset %zu is not allowed in a DNS name", c,
				 i);
			return false;
		}
		if (c == '-' && label == 0) {
			snprintf(err, errlen, "label starts with '-' at offset %zu", i);
			return false;
		}
		if (c < '0' || c > '9')
			all_digits = false;
		if (++label > 63) {
			snprintf(err, errlen, "label longer than 63 characters at offset %zu", i);
			return false;
		}
	}
	if (all_digits) {
		snprintf(err, errlen, "last label is numeric (an IP address is not a DNS name)");
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Leaf content shared with the signer                                                         */

int casign_add_ext(X509 *x, int nid, void *v, int crit)
{
	return X509_add1_ext_i2d(x, nid, v, crit, X509V3_ADD_REPLACE) == 1 ? 0 : -ENOMEM;
}

int casign_leaf_set_name(X509 *x, const char *name, size_t len)
{
	X509_NAME *subj = X509_NAME_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	bool has_cn = len <= CASIGN_CN_MAX;
	int rc = -ENOMEM;

	if (!subj || !gens || !gen || !ia5)
		goto out;
	if (has_cn && !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
						  (const unsigned char *)name, (int)len, -1, 0))
		goto out;
	if (!X509_set_subject_name(x, subj))
		goto out;
	if (!ASN1_STRING_set(ia5, name, (int)len))
		goto out;
	GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
	ia5 = NULL;
	if (!sk_GENERAL_NAME_push(gens, gen))
		goto out;
	gen = NULL;
	rc = casign_add_ext(x, NID_subject_alt_name, gens, has_cn ? 0 : 1);
out:
	X509_NAME_free(subj);
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Rebuilding the signer's answer                                                              */

/* The signer's certificate is needed here as an X509 object. Parsing its DER costs ~0.1 ms on
 * OpenSSL 3.0 (a decoder chain is built for the public key), more than the signature itself.
 * Every leaf for this agent differs from the previous one only in name, serial, validity and
 * signature, so the agent builds the object from a parsed prototype and the fields the signer
 * reports, then checks that it encodes to exactly the signer's DER: a difference (say, a future
 * OpenSSL encoding something differently) only costs the parse, never a wrong certificate. */

/* mirror_begin - a certificate like <proto> for <name> (<len> bytes) and key <pub>, short of
 * serial, validity and signature. Built before the request is sent: the signer runs on this
 * thread's CPU (follow_me), so nothing done here could overlap with its work anyway. */
static X509 *mirror_begin(const X509 *proto, EVP_PKEY *pub, const char *name, size_t len)
{
	const ASN1_BIT_STRING *psig, *xsig;
	const X509_ALGOR *palg, *xalg;
	X509 *x = X509_new();
	int i, n;

	if (!x || !X509_set_version(x, X509_get_version(proto)) ||
	    !X509_set_issuer_name(x, X509_get_issuer_name(proto)) || !X509_set_pubkey(x, pub))
		goto fail;
	/* Every extension but the name, in the signer's order; the name goes last, as there. */
	n = X509_get_ext_count(proto);
	for (i = 0; i < n; i++) {
		X509_EXTENSION *e = X509_get_ext(proto, i);

		if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_subject_alt_name &&
		    !X509_add_ext(x, e, -1))
			goto fail;
	}
	if (casign_leaf_set_name(x, name, len) < 0)
		goto fail;
	/* OpenSSL 3.0 has no setter for a certificate's two signature algorithm fields outside
	 * X509_sign, which needs the private key; they are written through the pointers its
	 * getters return, into this certificate's own (non-const) storage. */
	X509_get0_signature(&psig, &palg, proto);
	X509_get0_signature(&xsig, &xalg, x);
	if (X509_ALGOR_copy((X509_ALGOR *)X509_get0_tbs_sigalg(x), X509_get0_tbs_sigalg(proto)) !=
		1 ||
	    X509_ALGOR_copy((X509_ALGOR *)xalg, palg) != 1)
		goto fail;
	return x;
fail:
	X509_free(x);
	ERR_clear_error();
	return NULL;
}

/* mirror_finish - put the signer's serial, validity (from <h>) and signature (the last
 * h->sig_len bytes of <der>) into <x>. True when <x> then encodes to exactly <der>. */
static bool mirror_finish(X509 *x, const struct casign_resp_hdr *h, const unsigned char *der,
			  size_t len)
{
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	unsigned char *enc = NULL;
	bool same = false;
	int n;

	if (!serial || h->sig_len == 0 || h->sig_len >= len)
		goto out;
	if (!ASN1_STRING_set(serial, h->serial, CASIGN_SERIAL_LEN) ||
	    !X509_set_serialNumber(x, serial) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)h->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)h->not_after))
		goto out;
	X509_get0_signature(&sig, &alg, x);
	if (!ASN1_BIT_STRING_set((ASN1_BIT_STRING *)sig, (unsigned char *)der + len - h->sig_len,
				 (int)h->sig_len))
		goto out;
	/* A signature is whole octets: say so, or the encoder would count trailing zero bits of
	 * the last octet as padding (what X509_sign does too). */
	((ASN1_BIT_STRING *)sig)->flags &= ~(long)(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	((ASN1_BIT_STRING *)sig)->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	n = i2d_X509(x, &enc);
	same = n > 0 && (size_t)n == len && memcmp(enc, der, len) == 0;
out:
	OPENSSL_free(enc);
	ASN1_INTEGER_free(serial);
	ERR_clear_error();
	return same;
}

/* ------------------------------------------------------------------------------------------ */
/* Parent side                                                                                 */

/* One channel to the signer: the agent's end of a socketpair. The mutex makes a request and
 * its response one exchange; <buf> is reused so a request allocates nothing here. */
struct casign_slot {
	pthread_mutex_t lock;
	int fd;
	uint32_t next_id;
	bool dead;
	unsigned char buf[CASIGN_RESP_MAX];
};

struct casign {
	pid_t pid;
	unsigned n;	/* channels */
	unsigned rr;	/* round-robin start for channel selection (atomic) */
	int signer_cpu; /* CPU the signer is pinned to, -1 for none yet (atomic; see follow_me) */
	STACK_OF(X509) * chain;
	struct casign_slot *slots;
	/* The first certificate parsed for a request with a <pub>, and that key: what every later
	 * one is rebuilt like (issuer, extensions, algorithms). Published once (atomic), then read
	 * unlocked. */
	struct casign_proto {
		X509 *x;
		EVP_PKEY *pub;
	} * proto;
	uint64_t rebuilt, parsed; /* atomic */
};

/* thread_count - threads in this process per /proc, or 0 when it cannot be read. */
static int thread_count(void)
{
	char line[128];
	int n = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int set_rcvtimeo(int fd, int secs)
{
	struct timeval tv = {.tv_sec = secs};

	return setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

/* slot_recv - the response to request <id> into <buf> (<cap> bytes), skipping answers to
 * earlier requests that timed out. Returns the payload length or a negative errno. */
static ssize_t slot_recv(struct casign_slot *sl, uint32_t id, unsigned char *buf, size_t cap,
			 struct casign_resp_hdr *h, char *err, size_t errlen)
{
	ssize_t n;

	for (;;) {
		n = recv(sl->fd, buf, cap, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			snprintf(err, errlen, "signer did not answer in time");
			return -ETIMEDOUT;
		}
		if (n <= 0) {
			sl->dead = true;
			snprintf(err, errlen, "signer process exited");
			return -EPIPE;
		}
		if ((size_t)n > cap || (size_t)n < sizeof(*h)) {
			snprintf(err, errlen, "signer sent a message of %zd bytes", n);
			return -EBADMSG;
		}
		memcpy(h, buf, sizeof(*h));
		if (h->magic != CASIGN_RESP_MAGIC || h->len != (size_t)n - sizeof(*h)) {
			snprintf(err, errlen, "signer sent a malformed response");
			return -EBADMSG;
		}
		if (h->id == id)
			return (ssize_t)h->len;
	}
}

/* slot_error - copy the signer's error text (not NUL-terminated on the wire) into <err>. */
static void slot_error(const unsigned char *msg, size_t len, char *err, size_t errlen)
{
	if (len >= CASIGN_ERR_MAX)
		len = CASIGN_ERR_MAX - 1;
	snprintf(err, errlen, "%.*s", (int)len, (const char *)msg);
}

/* casign_ready - wait for the signer's start-up verdict on channel 0 and keep its chain. */
static int casign_ready(struct casign *cs, char *err, size_t errlen)
{
	struct casign_slot *sl = &cs->slots[0];
	struct casign_resp_hdr h;
	unsigned char *buf = malloc(CASIGN_READY_MAX + sizeof(h));
	const unsigned char *p, *end;
	ssize_t len;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	len = slot_recv(sl, 0, buf, CASIGN_READY_MAX + sizeof(h), &h, err, errlen);
	if (len < 0) {
		rc = (int)len;
		if (rc == -EPIPE)
			snprintf(err, errlen, "signer exited during start-up");
		goto out;
	}
	p = buf + sizeof(h);
	end = p + len;
	if (h.status != 0) {
		slot_error(p, (size_t)len, err, errlen);
		rc = h.status < 0 ? h.status : -EIO;
		goto out;
	}
	cs->chain = sk_X509_new_null();
	while (cs->chain && p < end) {
		X509 *x = d2i_X509(NULL, &p, end - p);

		if (!x || !sk_X509_push(cs->chain, x)) {
			X509_free(x);
			snprintf(err, errlen, "signer sent an unreadable CA chain");
			rc = -EBADMSG;
			goto out;
		}
	}
	if (!cs->chain || sk_X509_num(cs->chain) == 0) {
		snprintf(err, errlen, "signer sent no CA chain");
		rc = -EBADMSG;
	}
out:
	free(buf);
	return rc;
}

int casign_start(struct casign **out, const char *ca_cert_path, const char *ca_key_path,
		 unsigned nchannels, char *err, size_t errlen)
{
	int child_ends[CASIGN_MAX_CHANNELS];
	struct casign *cs;
	pid_t self = getpid();
	unsigned i;
	int rc = 0, threads;

	*out = NULL;
	if (!ca_cert_path || !ca_key_path || nchannels == 0 || nchannels > CASIGN_MAX_CHANNELS) {
		snprintf(err, errlen, "casign_start: bad arguments");
		return -EINVAL;
	}
	threads = thread_count();
	if (threads > 1) {
		snprintf(err, errlen,
			 "casign_start: the process already runs %d threads; start the signer "
			 "before any other thread",
			 threads);
		return -EBUSY;
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs || !(cs->slots = calloc(nchannels, sizeof(*cs->slots)))) {
		free(cs);
		snprintf(err, errlen, "casign_start: out of memory");
		return -ENOMEM;
	}
	cs->pid = -1;
	cs->signer_cpu = -1;
	for (i = 0; i < nchannels; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			rc = -errno;
			snprintf(err, errlen, "casign_start: socketpair: %s", strerror(errno));
			break;
		}
		pthread_mutex_init(&cs->slots[i].lock, NULL);
		cs->slots[i].fd = sv[0];
		cs->slots[i].next_id = 1;
		child_ends[i] = sv[1];
		cs->n = i + 1;
	}
	if (rc == 0) {
		cs->pid = fork();
		if (cs->pid < 0) {
			rc = -errno;
			snprintf(err, errlen, "casign_start: fork: %s", strerror(errno));
		} else if (cs->pid == 0) {
			casign_signer_main(child_ends, cs->n, ca_cert_path, ca_key_path, self);
		}
	}
	for (i = 0; i < cs->n; i++)
		close(child_ends[i]);
	for (i = 0; rc == 0 && i < cs->n; i++) {
		rc = set_rcvtimeo(cs->slots[i].fd,
				  i == 0 ? CASIGN_START_TIMEOUT_SECS : CASIGN_SIGN_TIMEOUT_SECS);
		if (rc < 0)
			snprintf(err, errlen, "casign_start: SO_RCVTIMEO: %s", strerror(-rc));
	}
	if (rc == 0)
		rc = casign_ready(cs, err, errlen);
	if (rc == 0)
		rc = set_rcvtimeo(cs->slots[0].fd, CASIGN_SIGN_TIMEOUT_SECS);
	if (rc < 0) {
		casign_stop(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

/* casign_acquire - a free channel if there is one, else wait for the next in turn. */
static struct casign_slot *casign_acquire(struct casign *cs)
{
	unsigned start = __atomic_fetch_add(&cs->rr, 1, __ATOMIC_RELAXED), i;
	struct casign_slot *sl;

	for (i = 0; i < cs->n; i++) {
		sl = &cs->slots[(start + i) % cs->n];
		if (pthread_mutex_trylock(&sl->lock) == 0)
			return sl;
	}
	sl = &cs->slots[start % cs->n];
	pthread_mutex_lock(&sl->lock);
	return sl;
}

/* keep_proto - make <x>, parsed for a request with key <pub>, the prototype later answers are
 * rebuilt like, unless there is one already. */
static void keep_proto(struct casign *cs, X509 *x, EVP_PKEY *pub)
{
	struct casign_proto *p, *none = NULL;

	if (__atomic_load_n(&cs->proto, __ATOMIC_ACQUIRE) || !(p = malloc(sizeof(*p))))
		return;
	if (!X509_up_ref(x)) {
		free(p);
		return;
	}
	*p = (struct casign_proto){x, pub};
	if (!__atomic_compare_exchange_n(&cs->proto, &none, p, false, __ATOMIC_RELEASE,
					 __ATOMIC_RELAXED)) {
		X509_free(x);
		free(p);
	}
}

/* follow_me - pin the signer to the CPU this thread runs on. A request is synchronous: this
 * thread blocks right after sending it, so that CPU is the one about to be free. Left to the
 * scheduler, the signer is woken on whichever CPU is idle, and waking an idle vCPU costs tens
 * of microseconds each way on a VM (~0.17 ms against ~0.09 ms per mint measured on a 2-vCPU
 * guest, bench/mint_bench.c). Mints are rare, so the signer moving between CPUs with its
 * callers costs nothing that matters; failing to pin (a cpuset, a seccomp filter) only costs
 * the wake-ups. */
static void follow_me(struct casign *cs)
{
	int cpu = sched_getcpu();
	siginfo_t si = {0};
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE ||
	    __atomic_load_n(&cs->signer_cpu, __ATOMIC_RELAXED) == cpu)
		return;
	/* Only a live signer: once it has exited its pid is not ours to touch (it stays
	 * reserved until reaped, unless SIGCHLD is ignored). WNOWAIT leaves it to casign_stop. */
	if (waitid(P_PID, (id_t)cs->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(cs->pid, sizeof(set), &set) == 0)
		__atomic_store_n(&cs->signer_cpu, cpu, __ATOMIC_RELAXED);
}

/* await_answer - yield this CPU until <fd> is readable, for at most CASIGN_YIELD_NS; the
 * caller's recv blocks after that. The signer was pinned to this CPU (follow_me), so yielding
 * hands the CPU straight to it; sleeping instead would have its answer wake this thread on
 * another, idle, CPU: the cross-CPU wake-up follow_me avoids on the way there. */
static void await_answer(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (poll(&pfd, 1, 0) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) >
		    CASIGN_YIELD_NS)
			return;
		sched_yield();
	}
}

int casign_sign(struct casign *cs, const struct casign_req *req, X509 **out, char *err,
		size_t errlen)
{
	const char *name = req->name;
	const unsigned char *spki = req->spki;
	size_t spki_len = req->spki_len;
	struct casign_req_hdr h = {.magic = CASIGN_REQ_MAGIC, .valid_secs = req->valid_secs};
	struct casign_resp_hdr rh;
	struct iovec iov[3];
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};
	struct casign_slot *sl;
	unsigned char der[CASIGN_RESP_MAX];
	const unsigned char *p = der;
	const struct casign_proto *proto;
	X509 *mirror = NULL;
	size_t name_len;
	ssize_t len = 0;
	int rc = 0;

	*out = NULL;
	if (!casign_name_valid(name, err, errlen))
		return -EINVAL;
	if (!spki || spki_len == 0 || spki_len > CASIGN_SPKI_MAX) {
		snprintf(err, errlen, "leaf public key of %zu bytes (1..%d allowed)", spki_len,
			 CASIGN_SPKI_MAX);
		return -EINVAL;
	}
	name_len = strlen(name);
	h.name_len = (uint16_t)name_len;
	h.spki_len = (uint16_t)spki_len;
	iov[0] = (struct iovec){&h, sizeof(h)};
	iov[1] = (struct iovec){(void *)name, name_len};
	iov[2] = (struct iovec){(void *)spki, spki_len};

	proto = __atomic_load_n(&cs->proto, __ATOMIC_ACQUIRE);
	if (proto && req->pub && req->pub == proto->pub)
		mirror = mirror_begin(proto->x, req->pub, name, name_len);

	sl = casign_acquire(cs);
	if (sl->dead) {
		snprintf(err, errlen, "signer process has exited");
		rc = -EPIPE;
		goto unlock;
	}
	h.id = sl->next_id++;
	if (sl->next_id == 0) /* id 0 is the ready message's */
		sl->next_id = 1;
	follow_me(cs);
	while (sendmsg(sl->fd, &msg, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		rc = errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
		if (rc == -EPIPE)
			sl->dead = true;
		snprintf(err, errlen, "sending to the signer: %s", strerror(errno));
		goto unlock;
	}
	await_answer(sl->fd);
	len = slot_recv(sl, h.id, sl->buf, sizeof(sl->buf), &rh, err, errlen);
	if (len < 0) {
		rc = (int)len;
		goto unlock;
	}
	if (rh.status != 0) {
		slot_error(sl->buf + sizeof(rh), (size_t)len, err, errlen);
		rc = rh.status < 0 ? rh.status : -EIO;
		goto unlock;
	}
	memcpy(der, sl->buf + sizeof(rh), (size_t)len);
unlock:
	pthread_mutex_unlock(&sl->lock);
	if (rc < 0) {
		X509_free(mirror);
		return rc;
	}
	if (mirror && mirror_finish(mirror, &rh, der, (size_t)len)) {
		__atomic_fetch_add(&cs->rebuilt, 1, __ATOMIC_RELAXED);
		*out = mirror;
		return 0;
	}
	X509_free(mirror);
	/* Parsed unlocked: the signer can serve the next caller meanwhile. */
	__atomic_fetch_add(&cs->parsed, 1, __ATOMIC_RELAXED);
	*out = d2i_X509(NULL, &p, len);
	if (!*out || p != der + len) {
		X509_free(*out);
		*out = NULL;
		ERR_clear_error();
		snprintf(err, errlen, "signer sent an unreadable certificate");
		return -EBADMSG;
	}
	if (req->pub)
		keep_proto(cs, *out, req->pub);
	return 0;
}

uint64_t casign_rebuilt(const struct casign *cs)
{
	return __atomic_load_n(&cs->rebuilt, __ATOMIC_RELAXED);
}

uint64_t casign_parsed(const struct casign *cs)
{
	return __atomic_load_n(&cs->parsed, __ATOMIC_RELAXED);
}

STACK_OF(X509) * casign_chain(const struct casign *cs)
{
	return cs->chain;
}

int casign_pid(const struct casign *cs)
{
	return (int)cs->pid;
}

/* reap - wait for <pid> after its sockets closed; a signer that does not leave within ~2 s
 * (it should take microseconds) is killed rather than waited on forever. */
static void reap(pid_t pid)
{
	struct timespec ms = {0, 1000000};
	int i;

	for (i = 0; i < 2000; i++) {
		pid_t r = waitpid(pid, NULL, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return; /* reaped, or not our child to reap (SIGCHLD ignored) */
		nanosleep(&ms, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void casign_stop(struct casign *cs)
{
	unsigned i;

	if (!cs)
		return;
	for (i = 0; i < cs->n; i++) {
		close(cs->slots[i].fd);
		pthread_mutex_destroy(&cs->slots[i].lock);
	}
	if (cs->pid > 0)
		reap(cs->pid);
	sk_X509_pop_free(cs->chain, X509_free);
	if (cs->proto) {
		X509_free(cs->proto->x);
		free(cs->proto);
	}
	free(cs->slots);
	free(cs);
}
