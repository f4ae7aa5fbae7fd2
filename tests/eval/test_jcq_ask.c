/* tests/eval/test_jcq_ask.c - the choice a loglik score picks (nodes/eval/
 * jcq_ask.h); the node end to end is in test_jcq_*.sh. */
#include <math.h>

#include "nodes/eval/jcq_ask.h"
#include "tests/eval/helpers.h"

Test(jcq_ask, argmax)
{
    double s[5] = {-3, -1, -1, -2, NAN};
    cr_assert_eq(ik_jcq_argmax(s), 1); /* ties: the lower number */
    double nan5[5] = {NAN, NAN, NAN, NAN, -9};
    cr_assert_eq(ik_jcq_argmax(nan5), 4);
}
