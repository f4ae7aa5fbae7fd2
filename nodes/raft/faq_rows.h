/* nodes/raft/faq_rows.h - FAQ rows (question, answer, group, url) read from a file
 * or from a `faq.rows` artifact, with every bad input named by file and row.
 *
 * Formats: JSON Lines, a JSON array of objects, CSV (RFC 4180: a header row,
 * quoted fields with embedded newlines and doubled quotes, CRLF or LF, an
 * optional UTF-8 BOM) and msgpack (an array of maps, a stream of maps, or an
 * artifact map with a `records` array). Column names come from a
 * struct ik_faq_fields, so any FAQ export maps onto the four roles.
 * Messages (all code IK_EPARSE) use the diag row form `FILE:N: error: …`
 * where N is the line (JSON Lines; CSV: the line the record starts on), and
 * `FILE: row N: error: …` (N counted from 1) for JSON arrays and msgpack:
 *   faq.jsonl:381: error: missing field "Answer"
 *   faq.jsonl:12: error: not valid JSON: <jansson's text> (column C)
 *   faq.csv:7: error: field "Answer" is empty
 *   faq.jsonl:5: error: field "Answer" is a number, expected a string
 * Question and answer must be non-empty strings; the group is a string (it
 * may be empty); url is optional (missing, null or "" = none). Text read from
 * CSV and msgpack must be valid UTF-8 (jansson checks JSON itself). */
#ifndef IK_NODES_RAFT_FAQ_ROWS_H
#define IK_NODES_RAFT_FAQ_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "base/diag.h"
#include "base/strset.h"

struct ik_faq_row {
    char *question; /* owned by the set, NUL-terminated */
    char *answer;
    char *url; /* NULL when the row has none */
    size_t question_len, answer_len;
    uint32_t group; /* index into ik_faq_rows.groups */
    long src;       /* line (JSONL, CSV) or 1-based row (JSON array, msgpack) */
};

struct ik_faq_rows {
    struct ik_faq_row *v; /* read-only */
    size_t n;             /* read-only */
    size_t cap;           /* private */
    char **groups;        /* read-only: interned group names, in order of first use */
    size_t n_groups;      /* read-only */
    size_t groups_cap;    /* private */
    struct ik_strset group_ids; /* private */
};

/* Which column holds what. group or url NULL or "" = the data has none (every
 * row then gets the group ""; url stays NULL). */
struct ik_faq_fields {
    const char *question, *answer, *group, *url;
};

/* JaGovFaqs-22k names: Question, Answer, copyright, url. */
extern const struct ik_faq_fields ik_faq_fields_jagovfaqs;
/* The names inside a `faq.rows` artifact: question, answer, group, url. */
extern const struct ik_faq_fields ik_faq_fields_artifact;

enum ik_faq_format { IK_FAQ_AUTO, IK_FAQ_JSONL, IK_FAQ_JSON, IK_FAQ_CSV, IK_FAQ_MSGPACK };

/* "auto", "jsonl", "json", "csv" or "msgpack"; -1 for anything else. */
int ik_faq_format_from_name(const char *name);

void ik_faq_rows_init(struct ik_faq_rows *rows);
void ik_faq_rows_free(struct ik_faq_rows *rows); /* accepts an initialised empty set */
/* Appends a copy of the given strings (url may be NULL); returns the new
 * row's index. Cannot fail. */
size_t ik_faq_rows_add(struct ik_faq_rows *rows, const char *q, size_t q_len, const char *a,
                       size_t a_len, const char *group, size_t group_len, const char *url,
                       size_t url_len, long src);
/* The group name of row i. */
const char *ik_faq_rows_group(const struct ik_faq_rows *rows, size_t i);

/* Parses `len` bytes named `name` (used in messages only) and appends the
 * rows to *out (initialised by the caller). IK_FAQ_AUTO picks the format from
 * the name's extension (.csv, .msgpack/.mpk) or else from the first byte ('['
 * JSON array, '{' JSON Lines, a msgpack array or map marker). On failure
 * returns IK_EPARSE with d set, and *out may hold the rows read so far. */
int ik_faq_rows_parse(const char *name, const char *data, size_t len, enum ik_faq_format fmt,
                      const struct ik_faq_fields *f, struct ik_faq_rows *out, struct ik_diag *d);
/* Reads the file at `path` and parses it as above; -errno if it cannot be
 * read (d names the path). */
int ik_faq_rows_read_file(const char *path, enum ik_faq_format fmt, const struct ik_faq_fields *f,
                          struct ik_faq_rows *out, struct ik_diag *d);
/* Rows from an unpacked msgpack object: an array of maps, or a map with a
 * `records` array (an artifact). `name` is used in messages. */
int ik_faq_rows_from_object(const char *name, const msgpack_object *obj,
                            const struct ik_faq_fields *f, struct ik_faq_rows *out,
                            struct ik_diag *d);

#endif
