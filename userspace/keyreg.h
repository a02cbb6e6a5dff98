/* keyreg: the registry of sanctioned API-key fingerprints (a text file, one per line, format
 * below) and its atomic rewrite for `modeluxctl keys sanction/revoke`. Owns the loaded table;
 * borrows nothing after a call returns. Keys not in the registry are "shadow" keys.
 *
 * File format, UTF-8 text, LF or CRLF line ends:
 *   # comment (a line whose first non-blank character is '#')
 *   <64 hex digits> [provider] [label...]
 * The fingerprint is apikey's HMAC-SHA256 in hex (either case; stored lower case). provider is
 * [a-z0-9._-]{1,31}, or "-" for none; the label is the rest of the line, blanks trimmed, no
 * control characters, at most KEYREG_LABEL_MAX - 1 bytes. A fingerprint may appear once. */
#ifndef MODELUX_KEYREG_H
#define MODELUX_KEYREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYREG_FP_HEX_LEN 64
#define KEYREG_PROVIDER_MAX 32
#define KEYREG_LABEL_MAX 256
#define KEYREG_MAX_ENTRIES 100000
#define KEYREG_MAX_BYTES (16 * 1024 * 1024)

struct keyreg_entry {
	uint8_t fp[32];
	char fp_hex[KEYREG_FP_HEX_LEN + 1]; /* lower case */
	char provider[KEYREG_PROVIDER_MAX]; /* "" when none */
	char label[KEYREG_LABEL_MAX];       /* "" when none */
	unsigned line;                      /* where it was read */
};

struct keyreg;

/* keyreg_parse - parse registry text (<fname> names it in messages). Returns NULL on error with
 * "fname:line:col: message" in <err>. */
struct keyreg *keyreg_parse(const char *text, size_t len, const char *fname, char *err,
			    size_t errlen);
/* keyreg_load - read and parse <path>. A missing file is an empty registry when <missing_ok>. */
struct keyreg *keyreg_load(const char *path, bool missing_ok, char *err, size_t errlen);
void keyreg_free(struct keyreg *reg);

size_t keyreg_count(const struct keyreg *reg);
/* keyreg_entry_at - entries in file order, i < keyreg_count(). */
const struct keyreg_entry *keyreg_entry_at(const struct keyreg *reg, size_t i);
/* keyreg_find - the entry for fingerprint <fp_hex> (64 hex digits, any case), or NULL.
 * Constant work per lookup: a hash set, no allocation. */
const struct keyreg_entry *keyreg_find(const struct keyreg *reg, const char *fp_hex);
bool keyreg_is_sanctioned(const struct keyreg *reg, const char *fp_hex);

/* keyreg_fp_parse - 64 hex digits (exactly, any case) to 32 bytes. */
bool keyreg_fp_parse(const char *hex, size_t len, uint8_t out[32]);

/* keyreg_sanction - add <fp_hex> to the registry file <path> (created if missing) with an
 * optional <provider> and <label> (NULL or "" for none). The file is parsed first (a broken file
 * is refused with its error position), the new text written to a temporary file in the same
 * directory, fsync'd and renamed over <path> (mode 0600), comments and other lines kept as they
 * were. Concurrent callers are serialized with flock(2) on the directory.
 * Returns 0, -EEXIST when already sanctioned, -EINVAL for a bad argument or file, or -errno. */
int keyreg_sanction(const char *path, const char *fp_hex, const char *provider, const char *label,
		    char *err, size_t errlen);
/* keyreg_revoke - remove <fp_hex>'s line the same way. Returns 0, -ENOENT when it was not
 * sanctioned (or there is no file), -EINVAL, or -errno. */
int keyreg_revoke(const char *path, const char *fp_hex, char *err, size_t errlen);

#endif
