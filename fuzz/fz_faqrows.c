/* fuzz/fz_faqrows.c - the FAQ rows a `sample` node reads from its file:
 * input (nodes/raft/faq_rows.h): the bytes parsed in every format, JSON
 * Lines, a JSON array, CSV and msgpack, and as the name's extension or first
 * byte picks (auto), with the JaGovFaqs column names and (msgpack) with a
 * faq.rows artifact's. */
#include <stdint.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "nodes/raft/faq_rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum ik_faq_format formats[] = {IK_FAQ_AUTO, IK_FAQ_JSONL, IK_FAQ_JSON,
                                                 IK_FAQ_CSV, IK_FAQ_MSGPACK};
    bool mp_ok = fz_mp_plausible(data, size);
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (!mp_ok && (formats[i] == IK_FAQ_AUTO || formats[i] == IK_FAQ_MSGPACK))
            continue;
        struct ik_faq_rows rows;
        ik_faq_rows_init(&rows);
        struct ik_diag d = IK_DIAG_INIT;
        if (ik_faq_rows_parse("faq.jsonl", (const char *)data, size, formats[i],
                              &ik_faq_fields_jagovfaqs, &rows, &d) == 0)
            for (size_t r = 0; r < rows.n; r++)
                ik_faq_rows_group(&rows, r);
        fz_diag_done(&d);
        ik_faq_rows_free(&rows);
    }
    if (mp_ok) { /* a faq.rows artifact, with its own column names */
        struct ik_faq_rows rows;
        ik_faq_rows_init(&rows);
        struct ik_diag d = IK_DIAG_INIT;
        ik_faq_rows_parse("rows.msgpack", (const char *)data, size, IK_FAQ_AUTO,
                          &ik_faq_fields_artifact, &rows, &d);
        fz_diag_done(&d);
        ik_faq_rows_free(&rows);
    }
    /* CSV picked by the name */
    struct ik_faq_rows rows;
    ik_faq_rows_init(&rows);
    struct ik_diag d = IK_DIAG_INIT;
    ik_faq_rows_parse("faq.csv", (const char *)data, size, IK_FAQ_AUTO, &ik_faq_fields_jagovfaqs,
                      &rows, &d);
    fz_diag_done(&d);
    ik_faq_rows_free(&rows);
    return 0;
}
