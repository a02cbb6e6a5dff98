/* apikey_secret: the fleet secret that keys fingerprints (32 random bytes in a 0600 file).
 * Owns the file's creation and checks; the bytes go only into the caller's buffer, and every
 * stack copy is wiped. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "apikey.h"
#include "errfmt.h"

static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shrank after fstat */
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

/* Returns 0 with the secret in <out>, -ENOENT when there is no file, or another error. */
static int load(const char *path, uint8_t out[APIKEY_SECRET_LEN], char *err, size_t errlen)
{
	uint8_t buf[APIKEY_SECRET_LEN];
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			return err_fmt(err, errlen, rc, "key secret %s: is a symbolic link, refused",
				    path);
		return err_fmt(err, errlen, rc, "key secret %s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = err_fmt(err, errlen, -errno, "key secret %s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = err_fmt(err, errlen, -EINVAL, "key secret %s: not a regular file", path);
	} else if (st.st_uid != geteuid()) {
		rc = err_fmt(err, errlen, -EPERM, "key secret %s: owned by uid %u, expected %u", path,
			  (unsigned)st.st_uid, (unsigned)geteuid());
	} else if (st.st_mode & 077) {
		rc = err_fmt(err, errlen, -EPERM,
			  "key secret %s: mode %04o gives group/other access; it must be 0600",
			  path, (unsigned)(st.st_mode & 07777));
	} else if (st.st_size != APIKEY_SECRET_LEN) {
		rc = err_fmt(err, errlen, -EINVAL, "key secret %s: %lld bytes, expected %d", path,
			  (long long)st.st_size, APIKEY_SECRET_LEN);
	} else if ((rc = read_full(fd, buf, sizeof(buf))) < 0) {
		rc = err_fmt(err, errlen, rc, "key secret %s: read: %s", path, strerror(-rc));
	} else {
		memcpy(out, buf, sizeof(buf));
		rc = 0;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Write a new secret to a temporary file, then link() it to <path>: link never replaces an
 * existing file (-EEXIST when another process won the race), and readers never see a partial
 * file. Returns 1 with the secret in <out>, or a negative errno. */
static int create(const char *path, uint8_t out[APIKEY_SECRET_LEN], char *err, size_t errlen)
{
	uint8_t buf[APIKEY_SECRET_LEN];
	char tmp[PATH_MAX];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return err_fmt(err, errlen, -ENAMETOOLONG, "key secret %s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, mode 0600 */
	if (fd < 0)
		return err_fmt(err, errlen, -errno, "key secret %s: cannot create: %s", path,
			    strerror(errno));
	if (RAND_bytes(buf, sizeof(buf)) != 1) {
		rc = err_fmt(err, errlen, -EIO, "key secret %s: no random bytes from OpenSSL", path);
	} else if (fchmod(fd, 0600) < 0 || (rc = write_full(fd, buf, sizeof(buf))) < 0 ||
		   fsync(fd) < 0) {
		rc = err_fmt(err, errlen, -errno, "key secret %s: write: %s", path, strerror(errno));
	} else {
		rc = 0;
	}
	if (close(fd) < 0 && rc == 0)
		rc = err_fmt(err, errlen, -errno, "key secret %s: write: %s", path, strerror(errno));
	if (rc == 0 && link(tmp, path) < 0) {
		rc = -errno;
		if (rc != -EEXIST)
			err_fmt(err, errlen, rc, "key secret %s: cannot create: %s", path,
			     strerror(-rc));
	}
	unlink(tmp);
	if (rc == 0) {
		rc = fsync_parent(path);
		if (rc < 0)
			err_fmt(err, errlen, rc, "key secret %s: fsync of directory: %s", path,
			     strerror(-rc));
		else
			memcpy(out, buf, sizeof(buf));
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc < 0 ? rc : 1;
}

int apikey_secret_load_or_create(const char *path, uint8_t out[APIKEY_SECRET_LEN], char *err,
				 size_t errlen)
{
	int rc = -EINVAL;

	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path)
		return err_fmt(err, errlen, -EINVAL, "key secret: no path");
	/* Twice at most: if another process creates the file between our load and our link, the
	 * second load reads its secret. */
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = load(path, out, err, errlen);
		if (rc != -ENOENT)
			return rc;
		rc = create(path, out, err, errlen);
		if (rc != -EEXIST)
			return rc;
	}
	return err_fmt(err, errlen, rc, "key secret %s: created and removed concurrently", path);
}
