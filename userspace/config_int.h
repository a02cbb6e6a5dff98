/* config_int: what the configuration parser's files share: the parser state, the key table
 * entry and the helpers that report errors at a line and column. Internal to config*.c. */
#ifndef MODELUX_CONFIG_INT_H
#define MODELUX_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Hard caps. A config file is small; anything bigger is a mistake (or an attack on a parser
 * that runs as root). Provider ids travel as u16 in the BPF maps, so stay far below that. */
#define CONFIG_MAX_BYTES     (1024 * 1024)
#define CONFIG_MAX_PROVIDERS 1024
#define CONFIG_MAX_DOMAINS   1024 /* per provider */
#define CONFIG_QUOTE_MAX     48	  /* longest token echoed back in an error message */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A [provider NAME] section being read: applied to the provider list only when it ends, because
 * what it means (replace, add, remove) depends on all of its keys. */
struct section {
	bool open;
	char name[MLX_PROVIDER_NAME_MAX];
	unsigned line, name_col; /* where NAME is, for errors found when the section ends */
	char **domains;		 /* pending list, owned until handed to a provider */
	size_t ndomains;
	unsigned domains_line; /* 0 = no domains key yet */
	bool disable;
	unsigned disable_line, disable_col; /* 0 = no disable key yet */
};

struct seen_section {
	char name[MLX_PROVIDER_NAME_MAX];
	unsigned line;
};

struct parser;

struct key_def {
	const char *name;
	bool (*set)(struct parser *p, const struct key_def *d, const char *v, size_t n);
	size_t off, size; /* the field in struct mlx_config */
	uint32_t min, max;
};

struct parser {
	const char *fname;
	char *err;
	size_t errlen;
	struct mlx_config *cfg;
	unsigned line;	       /* 1-based number of the line being read */
	const char *bol;       /* its first byte, for columns */
	unsigned key_line[64]; /* line where each key_defs[] entry was set; 0 = not yet */
	struct section sec;
	struct seen_section *seen; /* every section header so far, to refuse repeats */
	size_t nseen;
	char quoted[CONFIG_QUOTE_MAX + 8];
};

/* helpers (config.c) */
bool cfg_is_ws(char c);
char cfg_ascii_lower(char c);
bool cfg_word_is(const char *s, size_t n, const char *word);
bool cfg_tok_is(const char *s, size_t n, const char *word);
void cfg_copy_str(char *dst, size_t size, const char *src);
bool cfg_fail_lc(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool cfg_fail(struct parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool cfg_fail_nopos(struct parser *p, const char *msg);
const char *cfg_quote(struct parser *p, const char *s, size_t n);

/* values and top-level keys (config_keys.c) */
struct list_iter {
	const char *p, *end;
	bool done;
};
bool cfg_list_next(struct list_iter *it, const char **s, size_t *n);
bool cfg_parse_bool(const char *s, size_t n, bool *out);
const char *cfg_domain_problem(const char *s, size_t n, char *buf, size_t buflen);
bool cfg_valid_provider_name(const char *s, size_t n);
const struct key_def *cfg_key_find(const char *k, size_t n);
size_t cfg_key_index(const struct key_def *d);

#endif
