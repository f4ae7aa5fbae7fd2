/* cache/tree.h - the `tree` artifact: a folder captured whole.
 *
 * A command's output may be a folder (a PEFT adapter folder, a tokenizer
 * folder); it is stored as one artifact, so the store, gc, verify and the
 * action records treat it as any other object:
 *
 *   {kind: "tree", schema: 1, meta: {name: str, files: int, bytes: int},
 *    files: [{path: str, exec: bool, data: bin}, ...]}
 *
 * `path` is relative, '/'-separated, without empty, "." or ".." components,
 * and the list is sorted by path bytewise with no repeats, so one folder has
 * one byte layout (and one hash) whatever order readdir lists it in. Only
 * regular files are kept (symlinks are followed; sockets, fifos and empty
 * folders are not kept); `exec` is whether any execute bit was set, the only
 * part of the mode kept (as git keeps it). A file is at most 4 GiB (msgpack's
 * bin32). */
#ifndef IK_CACHE_TREE_H
#define IK_CACHE_TREE_H

#include <stdint.h>

#include <msgpack.h>

#include "base/diag.h"

/* What a packed tree holds. */
struct ik_tree_stats {
    uint64_t files;
    uint64_t bytes; /* of the files' contents */
};

/* Writes the tree artifact of folder `dir`, named `name` (meta.name, the
 * folder name a reader recreates), to a new file `out_path` (created or
 * truncated; not atomic: it is meant for a scratch file that is then stored
 * with ik_cas_put_file). Streamed: no file is held in memory whole. Returns
 * 0 with *stats filled, or -errno / IK_EVALIDATE (a file over 4 GiB, a
 * symlink loop) / IK_ECORRUPT (a file changed size while it was read) with
 * d naming the file. */
int ik_tree_pack(const char *dir, const char *name, const char *out_path,
                 struct ik_tree_stats *stats, struct ik_diag *d);

/* Checks an unpacked tree artifact's files list against the layout above.
 * IK_ECORRUPT naming `what` and the entry when it breaks it. */
int ik_tree_check(const msgpack_object *root, const char *what, struct ik_diag *d);

/* Recreates the tree's files under folder `dest` (created when missing),
 * after ik_tree_check, so a damaged or hostile artifact cannot write outside
 * dest. Each file is written atomically with mode 0755 or 0644. Returns 0 or
 * an error from ik_tree_check, or -errno with d naming the file. */
int ik_tree_write(const msgpack_object *root, const char *dest, const char *what,
                  struct ik_diag *d);

#endif
