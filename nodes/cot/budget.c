/* nodes/cot/budget.c - the spend cap: prices per model (USD per million
 * tokens, from a param), costs from the token counts the API reports, and
 * reservations so that requests in flight can never push the spend past
 * max_usd. A request's reservation assumes max_tokens of output and, for
 * input, one token per byte of its body until a response shows the real
 * ratio (then 1.25 times the highest ratio seen): a byte-level tokenizer
 * never yields more tokens than bytes. */
#include <string.h>

#include "base/error.h"
#include "base/mp.h"
#include "nodes/cot/cot.h"

int ik_cot_price_find(const msgpack_object *prices, const char *model, struct ik_cot_price *out,
                      struct ik_diag *d)
{
    if (prices == NULL || prices->type != MSGPACK_OBJECT_MAP)
        return ik_diag_set(d, IK_ENOTFOUND, "no price table");
    const msgpack_object *hit = NULL;
    size_t hit_len = 0, mlen = strlen(model);
    for (uint32_t i = 0; i < prices->via.map.size; i++) {
        const msgpack_object *k = &prices->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        size_t kl = k->via.str.size;
        bool exact = kl == mlen && memcmp(k->via.str.ptr, model, kl) == 0;
        bool prefix = kl < mlen && memcmp(k->via.str.ptr, model, kl) == 0;
        if (exact || (prefix && kl > hit_len && (hit == NULL || hit_len != mlen))) {
            hit = &prices->via.map.ptr[i].val;
            hit_len = kl;
        }
    }
    if (hit == NULL)
        return ik_diag_set(d, IK_ENOTFOUND, "param prices has no entry for model '%s'", model);
    double in, outp;
    if (!ik_mp_number(ik_mp_get(hit, "input"), &in) ||
        !ik_mp_number(ik_mp_get(hit, "output"), &outp) || in < 0 || outp < 0)
        return ik_diag_set(d, IK_EVALIDATE,
                           "param prices: the entry for '%s' needs numbers input and output "
                           "(USD per million tokens)",
                           model);
    out->in_usd_per_mtok = in;
    out->out_usd_per_mtok = outp;
    return 0;
}

void ik_cot_budget_init(struct ik_cot_budget *b, double max_usd, const struct ik_cot_price *p)
{
    memset(b, 0, sizeof *b);
    b->max_usd = max_usd;
    if (p)
        b->price = *p;
}

double ik_cot_budget_cost(const struct ik_cot_budget *b, int64_t in_tokens, int64_t out_tokens)
{
    return ((double)in_tokens * b->price.in_usd_per_mtok +
            (double)out_tokens * b->price.out_usd_per_mtok) /
           1e6;
}

bool ik_cot_budget_reserve(struct ik_cot_budget *b, size_t body_bytes, int64_t max_tokens,
                           double *reservation)
{
    double ratio = b->tok_per_byte > 0 ? b->tok_per_byte * 1.25 : 1.0;
    if (ratio > 1.0)
        ratio = 1.0;
    double est = ik_cot_budget_cost(b, (int64_t)((double)body_bytes * ratio) + 1, max_tokens);
    if (b->max_usd > 0 && b->spent_usd + b->reserved_usd + est > b->max_usd)
        return false;
    b->reserved_usd += est;
    *reservation = est;
    return true;
}

void ik_cot_budget_settle(struct ik_cot_budget *b, double reservation, size_t body_bytes,
                          int64_t in_tokens, int64_t out_tokens, bool paid_now)
{
    b->reserved_usd -= reservation;
    if (b->reserved_usd < 1e-12)
        b->reserved_usd = 0;
    double cost = ik_cot_budget_cost(b, in_tokens, out_tokens);
    b->spent_usd += cost;
    if (paid_now)
        b->new_usd += cost;
    if (body_bytes > 0 && in_tokens > 0) {
        double r = (double)in_tokens / (double)body_bytes;
        if (r > b->tok_per_byte)
            b->tok_per_byte = r;
    }
}
