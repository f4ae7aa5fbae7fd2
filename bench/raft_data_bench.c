/* bench/raft_data_bench.c - sample + distract over a JaGovFaqs-22k-sized
 * input (22,800 rows), in process, timed stage by stage.
 *
 * The rows are the 300 real ones of examples/jagovfaqs/faq.jsonl repeated 76
 * times with new questions ("<question> (#k)"), written as JSON Lines in
 * memory, then parsed, split with the reference sizes (1000/200/100/100),
 * turned into RAFT samples and packed as the nodes pack them. Baseline: the
 * JSONL parse alone, so the ratio shows what splitting and distracting add.
 * usage: raft_data_bench [faq.jsonl] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/buf.h"
#include "base/diag.h"
#include "nodes/raft/distract_build.h"
#include "nodes/raft/faq_rows.h"
#include "base/pyjson.h"
#include "nodes/raft/sample_split.h"

#ifndef IK_BENCH_SRCDIR
#define IK_BENCH_SRCDIR "."
#endif

#define REPEATS 76

static void fail(const struct ik_diag *d)
{
    fprintf(stderr, "raft_data_bench: %s\n", ik_diag_message(d));
    exit(1);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : IK_BENCH_SRCDIR "/examples/jagovfaqs/faq.jsonl";
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_faq_rows real;
    ik_faq_rows_init(&real);
    if (ik_faq_rows_read_file(path, IK_FAQ_AUTO, &ik_faq_fields_jagovfaqs, &real, &d) < 0)
        fail(&d);

    /* Generate the input text: every real row REPEATS times, new questions. */
    struct ik_buf text = IK_BUF_INIT;
    for (int k = 0; k < REPEATS; k++)
        for (size_t i = 0; i < real.n; i++) {
            const struct ik_faq_row *r = &real.v[i];
            struct ik_buf q = IK_BUF_INIT;
            ik_buf_printf(&q, "%s (#%d)", r->question, k);
            ik_buf_puts(&text, "{\"Question\": ");
            ik_pyjson_append_str(&text, q.data, q.len);
            ik_buf_puts(&text, ", \"Answer\": ");
            ik_pyjson_append_str(&text, r->answer, r->answer_len);
            ik_buf_puts(&text, ", \"copyright\": ");
            ik_pyjson_append_str(&text, ik_faq_rows_group(&real, i), strlen(ik_faq_rows_group(&real, i)));
            ik_buf_puts(&text, "}\n");
            ik_buf_free(&q);
        }

    double t0 = ik_clock_monotonic_s();
    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    if (ik_faq_rows_parse("bench.jsonl", text.data, text.len, IK_FAQ_JSONL, &ik_faq_fields_jagovfaqs,
                          &rows, &d) < 0)
        fail(&d);
    double t1 = ik_clock_monotonic_s();

    struct ik_sample_params sp = {"国税庁", "copyright", {1000, 200, 100, 100}, 50, 2000, 42, false};
    struct ik_sample_result sr;
    if (ik_sample_split("bench.jsonl", &rows, &sp, &sr, &d) < 0)
        fail(&d);
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    struct ik_faq_rows split[IK_SPLIT_COUNT];
    for (int s = 0; s < IK_SPLIT_COUNT; s++) {
        /* Round-trip each split through its artifact, as distract reads it. */
        ik_mp_writer_clear(&w);
        ik_sample_pack_rows(&w, &rows, &sr, s, &sp);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        msgpack_unpack_next(&u, w.sb.data, w.sb.size, NULL);
        ik_faq_rows_init(&split[s]);
        if (ik_faq_rows_from_object(ik_split_names[s], &u.data, &ik_faq_fields_artifact, &split[s],
                                    &d) < 0)
            fail(&d);
        msgpack_unpacked_destroy(&u);
    }
    ik_sample_pack_summary(&w, &rows, &sr, &sp);
    double t2 = ik_clock_monotonic_s();

    struct ik_distract_params dp;
    ik_distract_params_default(&dp);
    struct ik_distract_result dr;
    if (ik_distract_build(&split[IK_SPLIT_TRAIN], &split[IK_SPLIT_TEST], &split[IK_SPLIT_UNSEEN],
                          &split[IK_SPLIT_EXTRA], &dp, &dr, &d) < 0)
        fail(&d);
    ik_mp_writer_clear(&w);
    size_t bytes = 0;
    for (int s = 0; s < IK_RAFT_SPLITS; s++) {
        ik_distract_pack_samples(&w, &dr, s, &dp);
        bytes += w.sb.size;
        ik_mp_writer_clear(&w);
    }
    ik_distract_pack_report(&w, &dr, &dp);
    double t3 = ik_clock_monotonic_s();

    double total = t3 - t0;
    printf("raft_data_bench: %zu rows (%.1f MB JSONL) -> train %zu, test %zu, unseen %zu samples "
           "(%.1f MB msgpack)\n",
           rows.n, (double)text.len / 1e6, dr.n[IK_RAFT_TRAIN], dr.n[IK_RAFT_TEST],
           dr.n[IK_RAFT_UNSEEN], (double)bytes / 1e6);
    printf("  parse    %7.1f ms  (baseline)\n", (t1 - t0) * 1e3);
    printf("  sample   %7.1f ms\n", (t2 - t1) * 1e3);
    printf("  distract %7.1f ms\n", (t3 - t2) * 1e3);
    printf("  total    %7.1f ms  %.0f rows/s  (%.2fx the parse alone)\n", total * 1e3,
           (double)rows.n / total, total / (t1 - t0));

    ik_distract_result_free(&dr);
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        ik_faq_rows_free(&split[s]);
    ik_sample_result_free(&sr);
    ik_mp_writer_free(&w);
    ik_faq_rows_free(&rows);
    ik_faq_rows_free(&real);
    ik_buf_free(&text);
    return total < 1.0 ? 0 : 1;
}
