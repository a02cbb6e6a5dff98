/* tagmap: the tag map file (`tag_map =`): which tags a request gets from the unix group and
 * user that made it and from the executable that sent it. Owns the parsed rules and a small
 * cache of each uid's groups; borrows nothing. */
#ifndef MODELUX_TAGMAP_H
#define MODELUX_TAGMAP_H

#include <stddef.h>
#include <stdint.h>

/* Longest "k=v,k=v" list one rule may carry. */
#define TAGMAP_TAGS_MAX 256

/* Most rules one request can match (the rest are ignored; the file is refused with more rules
 * than this anyway). */
#define TAGMAP_RULES_MAX 1024

struct tagmap;

/* tagmap_parse - parse map text <text> (<len> bytes; <origin> names it in errors). Format, one
 * rule per line, `#` starts a comment:
 *     group <name|gid>  k=v,k=v
 *     user  <name|uid>  k=v,k=v
 *     exe   <glob>      k=v,k=v     (fnmatch(3) over the full executable path; '*' crosses '/')
 * A selector with spaces is written in double quotes. Tag names and values are
 * [A-Za-z0-9_.:/-]. Group names are resolved to gids here (a group unknown on this host is kept
 * and counted, see tagmap_unresolved_groups: fleet-wide maps name groups some hosts lack).
 * Returns the map, or NULL with <err> = "origin:line:col: what is wrong". */
struct tagmap *tagmap_parse(const char *text, size_t len, const char *origin, char *err,
			    size_t errlen);

/* tagmap_load_file - tagmap_parse of the file at <path>. */
struct tagmap *tagmap_load_file(const char *path, char *err, size_t errlen);

void tagmap_free(struct tagmap *m);

/* tagmap_match - the tag lists of the rules that apply to a request from <uid> (<user> is its
 * login name, "" when the sender is unknown: user and group rules are then skipped) running
 * <exe> ("" when unknown: exe rules skipped). Stores up to <max> pointers into <lists>, in
 * precedence order — group rules, then user rules, then exe rules, each in file order — so a
 * caller applying them in turn lets the later, more specific ones win. Returns the count.
 * Thread-safe; a uid's groups are looked up once (getgrouplist) and cached with the map. */
size_t tagmap_match(struct tagmap *m, uint32_t uid, const char *user, const char *exe,
		    const char **lists, size_t max);

/* Counts for the status output. */
size_t tagmap_rules(const struct tagmap *m);
size_t tagmap_unresolved_groups(const struct tagmap *m);

#endif
