/* base/glob.h - a glob pattern's matches, each with a name relative to the
 * pattern's fixed folder.
 *
 * A `{glob: PATTERN}` input is a set of files. Each match is named by its
 * path below the pattern's fixed folder (the part before the first component
 * holding a wildcard: for the .txt files of data/, "data", so "data/a.txt"
 * is "a.txt"),
 * so that moving data/ to inputs/ and writing the pattern again changes
 * nothing a node sees. The syntax is glob(3)'s with braces: `*`, `?`,
 * `[...]`, `{a,b}`; `*` does not match a leading dot or cross a '/'; there
 * is no `**`. */
#ifndef IK_BASE_GLOB_H
#define IK_BASE_GLOB_H

#include <stddef.h>

#include "base/diag.h"

struct ik_glob_match {
    char *path; /* as the pattern yields it (absolute for an absolute pattern) */
    char *rel;  /* below the pattern's fixed folder */
};

/* The matches of one pattern, sorted by rel bytewise (not by locale). */
struct ik_glob {
    struct ik_glob_match *m;
    size_t n;
};

/* Expands pattern into *out (empty when nothing matches: 0 with n == 0).
 * -errno with d naming the pattern when a folder cannot be read or memory
 * runs out. Free with ik_glob_free. */
int ik_glob_expand(const char *pattern, struct ik_glob *out, struct ik_diag *d);

/* Accepts a zeroed struct. */
void ik_glob_free(struct ik_glob *g);

#endif
