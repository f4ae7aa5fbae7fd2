/* tests/eval/model_helpers.h - fixtures of the model backend tests: a node
 * context outside `ikada exec` with input ports fed by files (as `file:`
 * sources are) or by objects put in the test's cache (as artifacts are), so
 * ik_eval_model_spec_parse/open see connected ports, content hashes and the
 * kv store exactly as a node does; msgpack entries built from JSON text; and
 * prompts. The cache is tests/common/tmpcache.h's. */
#ifndef IK_TESTS_EVAL_MODEL_HELPERS_H
#define IK_TESTS_EVAL_MODEL_HELPERS_H

#include <criterion/criterion.h>
#include <string.h>

#include <msgpack.h>

#include "base/mp.h"
#include "base/mpjson.h"
#include "base/xmalloc.h"
#include "cache/cas.h"
#include "engine/exec_int.h"
#include "base/error.h"
#include "nodes/eval/model_int.h"
#include "tests/common/tmpcache.h"

#ifndef IK_TEST_SRCDIR
#define IK_TEST_SRCDIR "."
#endif

#define FN_MAX_PORTS 8

struct fake_node {
    struct ik_node_ctx ctx;
    struct ik_exec_file files[FN_MAX_PORTS];
    size_t n_files;
    const char *ports[FN_MAX_PORTS];
    struct ik_hash hashes[FN_MAX_PORTS];
    uint64_t sizes[FN_MAX_PORTS];
    size_t n_ports;
    msgpack_unpacked inputs; /* points into w */
    struct ik_mp_writer w;
    bool built;
};

static inline void fn_init(struct fake_node *f, struct ik_cache *c)
{
    memset(f, 0, sizeof *f);
    f->ctx.cache = c;
    f->ctx.name = "node";
    f->ctx.scratch = T.dir;
}

/* Port fed by the file or folder at path (a `file:` source); its hash is
 * that of the path's text, which is all the backends compare. */
static inline void fn_file(struct fake_node *f, const char *port, const char *path)
{
    cr_assert_lt(f->n_ports, FN_MAX_PORTS);
    f->files[f->n_files].port = port;
    f->files[f->n_files++].path = path;
    f->ports[f->n_ports] = port;
    ik_hash_bytes(path, strlen(path), &f->hashes[f->n_ports++]);
}

/* Port fed by an artifact: bytes stored in the cache. */
static inline void fn_object(struct fake_node *f, const char *port, const void *data, size_t len)
{
    cr_assert_lt(f->n_ports, FN_MAX_PORTS);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_put(f->ctx.cache, data, len, &f->hashes[f->n_ports], &d), 0, "%s",
                 ik_diag_message(&d));
    f->sizes[f->n_ports] = len;
    f->ports[f->n_ports++] = port;
}

/* The context, once every port is added. */
static inline struct ik_node_ctx *fn_ctx(struct fake_node *f)
{
    if (f->built) /* asked again (a second model of the same node) */
        return &f->ctx;
    struct ik_mp_writer *w = &f->w;
    ik_mp_writer_init(w);
    ik_mp_map_begin(w, f->n_ports);
    for (size_t i = 0; i < f->n_ports; i++) {
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&f->hashes[i], hex);
        ik_mp_pack_str(&w->pk, f->ports[i]);
        ik_mp_map_begin(w, 2);
        ik_mp_pack_str(&w->pk, "hash");
        ik_mp_pack_str(&w->pk, hex);
        ik_mp_pack_str(&w->pk, "size");
        msgpack_pack_uint64(&w->pk, f->sizes[i]);
        ik_mp_map_end(w);
    }
    ik_mp_map_end(w);
    msgpack_unpacked_init(&f->inputs);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&f->inputs, w->sb.data, w->sb.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    f->ctx.inputs = &f->inputs.data;
    f->ctx.files = f->files;
    f->ctx.n_files = f->n_files;
    f->built = true;
    return &f->ctx;
}

static inline void fn_free(struct fake_node *f)
{
    ik__exec_inputs_free(&f->ctx);
    if (f->built) {
        msgpack_unpacked_destroy(&f->inputs);
        ik_mp_writer_free(&f->w);
    }
}

/* A models entry from JSON text. */
struct entry {
    msgpack_unpacked u;
    struct ik_mp_writer w;
};

static inline const msgpack_object *entry_of(struct entry *e, const char *json)
{
    struct ik_diag d = IK_DIAG_INIT;
    ik_mp_writer_init(&e->w);
    cr_assert_eq(ik_json_text_to_msgpack(json, strlen(json), &e->w.pk, "entry", &d), 0, "%s: %s",
                 json, ik_diag_message(&d));
    msgpack_unpacked_init(&e->u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&e->u, e->w.sb.data, e->w.sb.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    return &e->u.data;
}

static inline void entry_free(struct entry *e)
{
    msgpack_unpacked_destroy(&e->u);
    ik_mp_writer_free(&e->w);
}

/* Parses json into *s; returns the code, the message in msg (caller frees). */
static inline int spec_of(struct ik_eval_model_spec *s, const char *json, struct ik_node_ctx *node,
                          char **msg)
{
    struct entry e;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_eval_model_spec_parse(s, entry_of(&e, json), "models[0]", node, &d);
    if (msg)
        *msg = ik_xstrdup(ik_diag_message(&d));
    ik_diag_free(&d);
    entry_free(&e);
    return rc;
}

/* One single-message prompt (user) with its question and index. */
struct t_prompt {
    struct ik_eval_msg msg;
    struct ik_eval_prompt p;
};

static inline void t_prompt(struct t_prompt *t, const char *user, const char *question, size_t index)
{
    t->msg = (struct ik_eval_msg){"user", user, strlen(user)};
    t->p = (struct ik_eval_prompt){&t->msg, 1, question, index, NULL, NULL};
}

#endif
