/* tests/base/test_assert.c - IK_ASSERT: silent when true, evaluates once,
 * aborts naming the condition and its place when false. */
#include <signal.h>
#include <string.h>

#include "base/assert.h"
#include "base/xmalloc.h"
#include "tests/common/crash.h"

#include <criterion/redirect.h> /* after criterion.h, which crash.h includes */

Test(base_assert, true_passes_and_evaluates_once)
{
    int calls = 0;
    IK_ASSERT(1 + 1 == 2);
    IK_ASSERT(++calls == 1);
    cr_assert_eq(calls, 1);
}

Test(base_assert, false_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
    IK_ASSERT(1 + 1 == 3);
}

static void fail_two(void)
{
    IK_ASSERT(2 < 1);
}
static const int fail_two_line = __LINE__ - 2;

Test(base_assert, message_names_the_condition_and_its_place)
{
    char out[512];
    int status = crash_output(fail_two, out, sizeof out);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %d", status);
    char *want = ik_xasprintf("ikada: assertion failed: 2 < 1 at %s:%d\n", __FILE__, fail_two_line);
    cr_assert_str_eq(out, want);
    free(want);
}
