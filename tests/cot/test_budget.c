/* tests/cot/test_budget.c - price lookup (exact, longest prefix, missing,
 * malformed) and reservations that keep the spend within max_usd. */
#include "base/error.h"
#include "tests/cot/helpers.h"

static msgpack_object prices(msgpack_zone *z, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    const char *names[3] = {"claude-haiku-4-5", "claude-haiku-4-5-20251001", "gpt"};
    double in[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        msgpack_pack_str(&pk, strlen(names[i]));
        msgpack_pack_str_body(&pk, names[i], strlen(names[i]));
        msgpack_pack_map(&pk, i == 2 ? 1 : 2);
        msgpack_pack_str(&pk, 5);
        msgpack_pack_str_body(&pk, "input", 5);
        msgpack_pack_double(&pk, in[i]);
        if (i != 2) {
            msgpack_pack_str(&pk, 6);
            msgpack_pack_str_body(&pk, "output", 6);
            msgpack_pack_double(&pk, in[i] * 5);
        }
    }
    msgpack_object o;
    cr_assert_eq(msgpack_unpack(sb->data, sb->size, NULL, z, &o), MSGPACK_UNPACK_SUCCESS);
    return o;
}

Test(cot_budget, price_lookup)
{
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_object o = prices(&z, &sb);
    struct ik_cot_price p;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cot_price_find(&o, "claude-haiku-4-5-20251001", &p, &d), 0);
    cr_assert_float_eq(p.in_usd_per_mtok, 2, 1e-9);
    cr_assert_eq(ik_cot_price_find(&o, "claude-haiku-4-5-20990101", &p, &d), 0);
    cr_assert_float_eq(p.in_usd_per_mtok, 1, 1e-9);
    cr_assert_float_eq(p.out_usd_per_mtok, 5, 1e-9);
    cr_assert_eq(ik_cot_price_find(&o, "mistral", &p, &d), IK_ENOTFOUND);
    cr_assert(strstr(ik_diag_message(&d), "no entry for model 'mistral'"));
    cr_assert_eq(ik_cot_price_find(&o, "gpt-4o", &p, &d), IK_EVALIDATE);
    ik_diag_free(&d);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
}

Test(cot_budget, reservations_never_pass_the_cap)
{
    struct ik_cot_price p = {1.0, 5.0}; /* per million tokens */
    struct ik_cot_budget b;
    ik_cot_budget_init(&b, 0.01, &p);
    double r1, r2, r3;
    /* worst case of 1000 bytes + 512 output tokens: 0.001 + 0.00256 */
    cr_assert(ik_cot_budget_reserve(&b, 1000, 512, &r1));
    cr_assert(ik_cot_budget_reserve(&b, 1000, 512, &r2));
    cr_assert_not(ik_cot_budget_reserve(&b, 1000, 512, &r3)); /* 3 x 0.00356 > 0.01 */
    ik_cot_budget_settle(&b, r1, 1000, 300, 100, true);       /* 0.0008 real */
    cr_assert_float_eq(b.spent_usd, 0.0008, 1e-12);
    cr_assert(b.tok_per_byte > 0.29 && b.tok_per_byte < 0.31);
    cr_assert(ik_cot_budget_reserve(&b, 1000, 512, &r3));
    cr_assert_leq(b.spent_usd + b.reserved_usd, 0.01 + 1e-12);
    ik_cot_budget_settle(&b, r2, 1000, 300, 100, false); /* a cached answer */
    cr_assert_float_eq(b.new_usd, 0.0008, 1e-12);
    cr_assert_float_eq(b.spent_usd, 0.0016, 1e-12);
    struct ik_cot_budget unlimited;
    ik_cot_budget_init(&unlimited, 0, &p);
    for (int i = 0; i < 100; i++)
        cr_assert(ik_cot_budget_reserve(&unlimited, 100000, 512, &r1));
}

Test(cot_http_unit, retry_after_values)
{
    cr_assert_eq(ik_http_parse_retry_after("2", 0), 2000);
    cr_assert_eq(ik_http_parse_retry_after(" 0.5\r\n", 0), 500);
    /* Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 */
    cr_assert_eq(ik_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
    cr_assert_eq(ik_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
    cr_assert_eq(ik_http_parse_retry_after("soon", 0), -1);
}
