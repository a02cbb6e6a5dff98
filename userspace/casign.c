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
#include <pthread.h>
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
			snprintf(err, errlen, "upper-case letter at offset %zu (names must be lowercased)",
				 i);
			return false;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			snprintf(err, errlen, "character 0x%02x at offset %zu is not allowed in a DNS name",
				 c, i);
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
	unsigned n;  /* channels */
	unsigned rr; /* round-robin start for channel selection (atomic) */
	STACK_OF(X509) *chain;
	struct casign_slot *slots;
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
		rc = set_rcvtimeo(cs->slots[i].fd, i == 0 ? CASIGN_START_TIMEOUT_SECS
							  : CASIGN_SIGN_TIMEOUT_SECS);
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

	sl = casign_acquire(cs);
	if (sl->dead) {
		snprintf(err, errlen, "signer process has exited");
		rc = -EPIPE;
		goto unlock;
	}
	h.id = sl->next_id++;
	if (sl->next_id == 0) /* id 0 is the ready message's */
		sl->next_id = 1;
	while (sendmsg(sl->fd, &msg, MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		rc = errno == EPIPE || errno == ECONNRESET ? -EPIPE : -errno;
		if (rc == -EPIPE)
			sl->dead = true;
		snprintf(err, errlen, "sending to the signer: %s", strerror(errno));
		goto unlock;
	}
	if (req->overlap)
		req->overlap(req->overlap_arg);
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
	if (rc < 0)
		return rc;
	/* Parsed unlocked: d2i_X509 is the costliest step of a request on OpenSSL 3.0 (it builds
	 * a decoder chain for the public key), and the signer can serve the next caller
	 * meanwhile. */
	*out = d2i_X509(NULL, &p, len);
	if (!*out || p != der + len) {
		X509_free(*out);
		*out = NULL;
		ERR_clear_error();
		snprintf(err, errlen, "signer sent an unreadable certificate");
		return -EBADMSG;
	}
	return 0;
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
	free(cs->slots);
	free(cs);
}

