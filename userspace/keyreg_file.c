/* keyreg_file: reads the sanctioned-key registry file and rewrites it atomically for
 * `modeluxctl keys sanction/revoke` (temporary file in the same directory, fsync, rename, fsync of
 * the directory; mode 0600). Edits are textual so the operator's comments and layout survive.
 * Owns the file descriptors and buffers of one call; borrows the caller's strings. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyreg.h"
#include "errfmt.h"

/* Read all of <path> into a malloc'd, NUL-terminated buffer. -ENOENT when missing. */
static int read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, rc = 0;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return err_fmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = err_fmt(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_fmt(err, errlen, -EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > KEYREG_MAX_BYTES) {
		rc = err_fmt(err, errlen, -EFBIG, "%s: larger than %d bytes", path, KEYREG_MAX_BYTES);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = err_fmt(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_fmt(err, errlen, -errno, "%s: read: %s", path, strerror(errno));
			free(buf);
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
out:
	close(fd);
	return rc;
}

struct keyreg *keyreg_load(const char *path, bool missing_ok, char *err, size_t errlen)
{
	struct keyreg *reg;
	char *text;
	size_t len;
	int rc;

	rc = read_file(path, &text, &len, err, errlen);
	if (rc == -ENOENT && missing_ok)
		return keyreg_parse("", 0, path, err, errlen);
	if (rc < 0)
		return NULL;
	reg = keyreg_parse(text, len, path, err, errlen);
	free(text);
	return reg;
}

static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* Open <path>'s directory and hold an exclusive flock on it until the fd is closed. */
static int lock_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int fd;

	dir_of(path, dir, sizeof(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_fmt(err, errlen, -errno, "%s: %s", dir, strerror(errno));
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int rc = err_fmt(err, errlen, -errno, "%s: lock: %s", dir, strerror(errno));

			close(fd);
			return rc;
		}
	}
	return fd;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Replace <path> with <a> followed by <b>, atomically. */
static int write_atomic(int dirfd, const char *path, const char *a, size_t alen, const char *b,
			size_t blen, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp))
		return err_fmt(err, errlen, -ENAMETOOLONG, "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return err_fmt(err, errlen, -errno, "%s: cannot create a temporary file: %s", path,
			    strerror(errno));
	rc = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, a, alen);
	if (rc == 0)
		rc = write_all(fd, b, blen);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return err_fmt(err, errlen, rc, "%s: write: %s", path, strerror(-rc));
	}
	if (fsync(dirfd) < 0)
		return err_fmt(err, errlen, -errno, "%s: fsync of directory: %s", path,
			    strerror(errno));
	return 0;
}

/* Load the current registry under the lock: -ENOENT (with an empty registry) when missing. */
static int load_locked(const char *path, char **text, size_t *len, struct keyreg **reg,
		       char *err, size_t errlen)
{
	int rc = read_file(path, text, len, err, errlen);

	if (rc < 0 && rc != -ENOENT)
		return rc;
	*reg = keyreg_parse(*text ? *text : "", *len, path, err, errlen);
	if (!*reg) {
		free(*text);
		*text = NULL;
		return -EINVAL;
	}
	return rc;
}

static bool has_control(const char *s)
{
	for (; s && *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	}
	return false;
}

int keyreg_sanction(const char *path, const char *fp_hex, const char *provider, const char *label,
		    char *err, size_t errlen)
{
	char line[KEYREG_FP_HEX_LEN + KEYREG_PROVIDER_MAX + KEYREG_LABEL_MAX + 8];
	const struct keyreg_entry *e;
	struct keyreg *reg, *check;
	uint8_t fp[32];
	size_t len, llen;
	char *text;
	int dirfd, rc, n;

	if (err && errlen)
		err[0] = '\0';
	if (!fp_hex || !keyreg_fp_parse(fp_hex, strlen(fp_hex), fp))
		return err_fmt(err, errlen, -EINVAL, "fingerprint must be %d hexadecimal digits",
			    KEYREG_FP_HEX_LEN);
	if (has_control(provider) || has_control(label))
		return err_fmt(err, errlen, -EINVAL, "provider and label must not hold control "
						  "characters");
	if (!label)
		label = "";
	while (*label == ' ')
		label++;
	/* The provider column is "-" when there is a label but no provider. */
	if ((!provider || !*provider) && *label)
		provider = "-";
	n = snprintf(line, sizeof(line), "%.*s %s %s", KEYREG_FP_HEX_LEN, fp_hex,
		     provider ? provider : "", label);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return err_fmt(err, errlen, -EINVAL, "provider or label too long");
	for (int i = 0; i < KEYREG_FP_HEX_LEN; i++)
		line[i] = (char)(line[i] | 0x20);
	while (n > 0 && line[n - 1] == ' ')
		n--;
	/* The new line must read back exactly as the registry parser reads it. */
	check = keyreg_parse(line, (size_t)n, "new entry", err, errlen);
	if (!check)
		return -EINVAL;
	keyreg_free(check);
	line[n++] = '\n';
	llen = (size_t)n;

	dirfd = lock_dir(path, err, errlen);
	if (dirfd < 0)
		return dirfd;
	rc = load_locked(path, &text, &len, &reg, err, errlen);
	if (rc < 0 && rc != -ENOENT)
		goto out_unlocked;
	e = keyreg_find(reg, fp_hex);
	if (e) {
		rc = err_fmt(err, errlen, -EEXIST, "%s: already sanctioned (line %u)", path, e->line);
	} else {
		/* Text that does not end in a newline gets one before the new line. */
		bool sep = len && text[len - 1] != '\n';
		char *joined = sep ? malloc(len + 1) : NULL;

		if (sep && !joined) {
			rc = err_fmt(err, errlen, -ENOMEM, "%s: out of memory", path);
		} else {
			if (sep) {
				memcpy(joined, text, len);
				joined[len] = '\n';
			}
			rc = write_atomic(dirfd, path, sep ? joined : (text ? text : ""),
					  len + sep, line, llen, err, errlen);
		}
		free(joined);
	}
	keyreg_free(reg);
	free(text);
out_unlocked:
	close(dirfd);
	return rc;
}

/* Byte span [*start, *end) of line <lineno> (1-based) in <text>, newline included. The parser
 * skips a leading byte order mark, so line 1 starts after it. */
static bool line_span(const char *text, size_t len, unsigned lineno, size_t *start, size_t *end)
{
	size_t pos = len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;

	for (unsigned line = 1; pos < len; line++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t next = nl ? (size_t)(nl - text) + 1 : len;

		if (line == lineno) {
			*start = pos;
			*end = next;
			return true;
		}
		pos = next;
	}
	return false;
}

int keyreg_revoke(const char *path, const char *fp_hex, char *err, size_t errlen)
{
	const struct keyreg_entry *e;
	struct keyreg *reg;
	size_t len, start, end;
	uint8_t fp[32];
	char *text;
	int dirfd, rc;

	if (err && errlen)
		err[0] = '\0';
	if (!fp_hex || !keyreg_fp_parse(fp_hex, strlen(fp_hex), fp))
		return err_fmt(err, errlen, -EINVAL, "fingerprint must be %d hexadecimal digits",
			    KEYREG_FP_HEX_LEN);
	dirfd = lock_dir(path, err, errlen);
	if (dirfd < 0)
		return dirfd;
	rc = load_locked(path, &text, &len, &reg, err, errlen);
	if (rc == -ENOENT) {
		keyreg_free(reg);
		rc = err_fmt(err, errlen, -ENOENT, "%s: no such file: nothing is sanctioned", path);
		goto out;
	}
	if (rc < 0)
		goto out;
	e = keyreg_find(reg, fp_hex);
	if (!e)
		rc = err_fmt(err, errlen, -ENOENT, "%s: fingerprint not sanctioned", path);
	else if (!line_span(text, len, e->line, &start, &end))
		rc = err_fmt(err, errlen, -EIO, "%s: line %u vanished", path, e->line);
	else
		rc = write_atomic(dirfd, path, text, start, text + end, len - end, err, errlen);
	keyreg_free(reg);
	free(text);
out:
	close(dirfd);
	return rc;
}
