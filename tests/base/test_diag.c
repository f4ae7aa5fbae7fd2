/* tests/base/test_diag.c - base/diag: one report naming several problems
 * (ik_diag_append keeps the first code and puts each message on its own
 * lines). */
#include <criterion/criterion.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"

Test(diag, append_collects_messages_and_keeps_the_first_code)
{
    struct ik_diag d = IK_DIAG_INIT, one = IK_DIAG_INIT;
    ik_diag_append(&d, &one); /* nothing to add */
    cr_assert_null(d.text);
    ik_diag_set(&one, IK_EVALIDATE, "first");
    ik_diag_append(&d, &one);
    cr_assert_eq(d.code, IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: first");
    ik_diag_set(&one, IK_EPARSE, "second");
    ik_diag_append(&d, &one);
    cr_assert_eq(d.code, IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: first\nerror: second");
    ik_diag_free(&one);
    ik_diag_free(&d);
}
