/* cache/remote.h - a second tier of the store on an HTTP server or an S3
 * bucket (cache/remote_s3.h), shared by machines (a laptop, CI, a cluster's
 * nodes).
 *
 * The layout is Bazel's HTTP cache protocol (../shared/notes/scale-out.md
 * C1), so any server with GET and PUT serves it (nginx WebDAV, bazel-remote
 * with --disable_http_ac_validation):
 *   <base>/cas/<sha256 hex>   an object's bytes (cache/cas.h)
 *   <base>/ac/<key hex>       a node key's action record (cache/action.h)
 *
 * The setting (--remote, IKADA_REMOTE, a graph's or the config file's
 * remote:; cli/remote_setting.c picks one) is "URL" or "URL auth=VAR"; URL is
 * http(s)://... or s3://BUCKET/PREFIX. VAR names an
 * environment variable holding one whole request header, e.g.
 * "Authorization: Bearer ...", sent with every request and never stored or
 * printed. Basic auth also works as http://user:pass@host/...
 *
 * A server does not check what it stores, so every download is hashed: an
 * object whose bytes do not match its name, or a record that does not parse
 * or names another key, is a miss (the node re-runs and its push overwrites
 * the damage). Uploads put the objects first and the record last: a record
 * on the server is the commit point, so a reader never finds one whose
 * objects are not all there yet. PUTs of one name carry the same bytes
 * (objects are named by their hash, records by their key), so uploads are
 * idempotent and two runs uploading at once are harmless.
 *
 * Anything but a clean answer (401, 403, 5xx, a refused connection, a
 * timeout) marks the remote down for the rest of the process: every later
 * call returns IK_EHTTP at once, so a run goes on locally and says so once
 * (the caller prints ik_remote_down_reason when it first sees IK_EHTTP). A
 * 404 is the only miss. */
#ifndef IK_CACHE_REMOTE_H
#define IK_CACHE_REMOTE_H

#include <stdbool.h>

#include "base/hash.h"
#include "cache/action.h"
#include "cache/cache.h"

struct ik_remote;

/* Parses a setting (above). IK_EUSAGE with d filled when it is not http(s)://
 * or s3://, names an unset variable, or lacks S3 credentials. */
int ik_remote_open(const char *setting, struct ik_remote **out, struct ik_diag *d);

/* Accepts NULL. */
void ik_remote_close(struct ik_remote *r);

/* Downloads the record of key and the objects it names (outputs and log)
 * into the local cache, each hash-checked, the local record written last.
 * 0: the local cache now has the key's result; -ENOENT: a miss (nothing there,
 * or something damaged: d then says what, as a note for the caller to show);
 * IK_EHTTP: the remote is down (see above); -errno: the local store failed
 * (d filled). */
int ik_remote_fetch(struct ik_remote *r, struct ik_cache *c, const struct ik_hash *key,
                    struct ik_diag *d);

/* Reads and checks the record of key without downloading anything else (for
 * `ikada status` and `run -n`: what a run would download). 0 with *out the
 * record (free it), -ENOENT (a miss, or a damaged record: d says what), or
 * IK_EHTTP (down). The objects it names are not asked for: the record is the
 * commit point, uploaded after them. */
int ik_remote_lookup(struct ik_remote *r, const struct ik_hash *key, struct ik_action **out,
                     struct ik_diag *d);

/* Uploads the local record of a->key: its objects, then the record. 0,
 * IK_EHTTP (down), or -errno (a local object is missing or unreadable; d
 * filled). */
int ik_remote_push(struct ik_remote *r, struct ik_cache *c, const struct ik_action *a,
                   struct ik_diag *d);

/* Why the remote went down ("http://host/cache/ac/...: HTTP 503"), or NULL
 * while it is up. */
const char *ik_remote_down_reason(const struct ik_remote *r);

/* The base URL without credentials, for messages. */
const char *ik_remote_name(const struct ik_remote *r);

#endif
