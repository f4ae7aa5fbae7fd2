/* nodes/distract.c - the `distract` node type: FAQ splits from `sample` ->
 * RAFT samples (oracle + distractor documents, refusals) and a report.
 *
 * A thin adapter over distract_build.h: it turns params and input artifacts
 * into plain structs, calls ik_distract_build, and stores the packed
 * artifacts. All behaviour (and all tests) live in distract_build.c. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "nodes/raft/distract_build.h"
#include "nodes/raft/faq_rows.h"
#include "engine/node.h"

static const struct ik_port_spec distract_inputs[] = {
    {"train", "faq.rows", false, "rows that become training samples"},
    {"test", "faq.rows", true, "rows that become test samples (oracle always present)"},
    {"unseen", "faq.rows", true, "rows of other groups that become test samples"},
    {"extra", "faq.rows", true, "rows that become refusal samples (no oracle)"},
    {NULL, NULL, false, NULL},
};

static const struct ik_port_spec distract_outputs[] = {
    {"train", "raft.samples", false, "system/user/assistant samples, shuffled"},
    {"test", "raft.samples", false, "system/user samples with expected_answer, oracle_position"},
    {"unseen", "raft.samples", false, "like test, for the unseen rows"},
    {"report", "distract.report", false, "oracle rate, slots, refusals, topped-up distractors"},
    {NULL, NULL, false, NULL},
};

#define SYSTEM_DEFAULT                                                                      \
    "\"あなたは税務に関する質問に答えるAIアシスタントです。提供された参考文書を基に正確に"    \
    "回答してください。参考文書に回答に必要な情報がない場合は、「提供された情報からは回答で" \
    "きません」と答えてください。回答する際は、根拠となる参考文書の該当箇所を引用してから、" \
    "簡潔に回答してください。\""
#define REFUSALS_DEFAULT                                                                           \
    "[\"提供された参考文書を確認しましたが、この質問に直接回答するための情報は含まれていません" \
    "でした。提供された情報からは回答できません。\", \"各参考文書を確認しましたが、質問に対す" \
    "る回答に必要な情報が見つかりませんでした。提供された情報からは回答できません。\", \"参考" \
    "文書の内容を確認しましたが、この質問に該当する記述は見つかりませんでした。提供された情報" \
    "からは回答できません。\", \"提供された参考文書にはこの質問に回答するための十分な情報が含" \
    "まれていません。提供された情報からは回答できません。\", \"参考文書を精査しましたが、質問" \
    "の内容に合致する情報は記載されていませんでした。提供された情報からは回答できません。\"]"

static const struct ik_param_spec distract_params[] = {
    {"distractors", IK_PARAM_INT, "4", "distractor documents per sample (5 documents in all)",
     IK_RANGE(0, IK_DISTRACT_MAX_DOCS - 1)},
    {"oracle_p", IK_PARAM_FLOAT, "0.8", "probability that a training sample keeps its oracle", IK_RANGE(0, 1)},
    {"seed", IK_PARAM_INT, "42", "PRNG seed (xoshiro256**, see docs/determinism.md)", NULL},
    {"system_prompt", IK_PARAM_STRING, SYSTEM_DEFAULT, "system message of every sample", NULL},
    {"refusals", IK_PARAM_LIST, REFUSALS_DEFAULT, "answers of samples without the oracle", NULL},
    {"prompt_intro", IK_PARAM_STRING, "以下の参考文書を基に質問に答えてください。",
     "first line of the user message", NULL},
    {"doc_label", IK_PARAM_STRING, "参考文書", "document label, numbered from 1", NULL},
    {"question_label", IK_PARAM_STRING, "質問", "label before the question", NULL},
    {"source", IK_PARAM_STRING, "JaGovFaqs-22k", "metadata source of every sample", NULL},
    {"group_key", IK_PARAM_STRING, "\"\"",
     "metadata key of the group; \"\" = the group_field sample used (copyright)", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

/* Reads input `port` (a faq.rows artifact) into rows; an unconnected
 * optional port stays empty. *group_field gets the artifact's meta.group_field. */
static int read_rows(struct ik_node_ctx *ctx, const char *port, struct ik_faq_rows *rows,
                     char **group_field, struct ik_diag *d)
{
    if (!ik_node_has_input(ctx, port))
        return 0;
    const msgpack_object *root;
    int rc = ik_node_input_object(ctx, port, &root, d);
    if (rc < 0)
        return rc;
    const msgpack_object *kind = ik_mp_get(root, "kind");
    if (!ik_mp_str_eq(kind, "faq.rows"))
        return ik_diag_set(d, IK_EVALIDATE, "input %s: expected a faq.rows artifact (from sample)",
                           port);
    const msgpack_object *gf = ik_mp_get(ik_mp_get(root, "meta"), "group_field");
    if (*group_field == NULL && gf && gf->type == MSGPACK_OBJECT_STR && gf->via.str.size > 0)
        *group_field = ik_mp_strdup(gf);
    char *what = ik_xasprintf("input %s", port);
    rc = ik_faq_rows_from_object(what, root, &ik_faq_fields_artifact, rows, d);
    free(what);
    return rc;
}

static int distract_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    struct ik_distract_params p;
    ik_distract_params_default(&p);
    int64_t k;
    int rc = ik_node_param_int_in(ctx, "distractors", 0, IK_DISTRACT_MAX_DOCS - 1, &k, d);
    if (rc < 0)
        return rc;
    p.n_distractors = (size_t)k;
    p.oracle_p = ik_node_param_float(ctx, "oracle_p");
    p.seed = (uint64_t)ik_node_param_int(ctx, "seed");
    p.system_prompt = ik_node_param_str(ctx, "system_prompt");
    p.prompt.intro = ik_node_param_str(ctx, "prompt_intro");
    p.prompt.doc_label = ik_node_param_str(ctx, "doc_label");
    p.prompt.question_label = ik_node_param_str(ctx, "question_label");
    p.source = ik_node_param_str(ctx, "source");
    const msgpack_object *ref = ik_node_param(ctx, "refusals");
    if (ref == NULL || ref->type != MSGPACK_OBJECT_ARRAY || ref->via.array.size < 1 ||
        ref->via.array.size > IK_DISTRACT_MAX_REFUSALS)
        return ik_diag_set(d, IK_EVALIDATE, "param refusals: expected a list of 1..%d strings",
                           IK_DISTRACT_MAX_REFUSALS);
    char *refusals[IK_DISTRACT_MAX_REFUSALS] = {NULL};
    p.n_refusals = ref->via.array.size;
    p.refusals = (const char *const *)refusals;

    struct ik_faq_rows sets[4];
    static const char *const ports[4] = {"train", "test", "unseen", "extra"};
    for (int i = 0; i < 4; i++)
        ik_faq_rows_init(&sets[i]);
    char *group_field = NULL;
    struct ik_distract_result res = {0};
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    rc = 0;
    for (size_t i = 0; i < p.n_refusals && rc == 0; i++) {
        const msgpack_object *item = &ref->via.array.ptr[i];
        if (item->type == MSGPACK_OBJECT_STR)
            refusals[i] = ik_mp_strdup(item);
        if (refusals[i] == NULL || refusals[i][0] == '\0')
            rc = ik_diag_set(d, IK_EVALIDATE, "param refusals: item %zu is not a non-empty string",
                             i + 1);
    }
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = read_rows(ctx, ports[i], &sets[i], &group_field, d);
    if (rc < 0)
        goto out;
    const char *gk = ik_node_param_str(ctx, "group_key");
    p.group_key = gk && gk[0] ? gk : group_field ? group_field : "copyright";
    if ((rc = ik_distract_build(&sets[0], &sets[1], &sets[2], &sets[3], &p, &res, d)) < 0)
        goto out;
    for (int s = 0; s < IK_RAFT_SPLITS && rc == 0; s++) {
        ik_distract_pack_samples(&w, &res, s, &p);
        rc = ik_node_output(ctx, ik_raft_split_names[s], w.sb.data, w.sb.size, d);
        ik_mp_writer_clear(&w);
        ik_node_progress(ctx, (uint64_t)s + 1, IK_RAFT_SPLITS, "splits");
    }
    if (rc == 0) {
        ik_distract_pack_report(&w, &res, &p);
        rc = ik_node_output(ctx, "report", w.sb.data, w.sb.size, d);
    }
    if (rc == 0) {
        const struct ik_raft_stats *st = &res.stats[IK_RAFT_TRAIN];
        ik_node_counter(ctx, "train", (double)st->samples);
        ik_node_counter(ctx, "with_oracle", (double)st->with_oracle);
    }
out:
    ik_mp_writer_free(&w);
    ik_distract_result_free(&res);
    for (int i = 0; i < 4; i++)
        ik_faq_rows_free(&sets[i]);
    for (size_t i = 0; i < IK_DISTRACT_MAX_REFUSALS; i++)
        free(refusals[i]);
    free(group_field);
    return rc;
}

const struct ik_node_type ik_node_distract = {
    .name = "distract",
    /* 2: the test and unseen artifacts' meta no longer carries oracle_p. */
    .version = 2,
    .summary = "RAFT samples: oracle + same-group distractors, refusals, prompts as the reference",
    .inputs = distract_inputs,
    .outputs = distract_outputs,
    .params = distract_params,
    .cpu = 1,
    .run = distract_run,
};
