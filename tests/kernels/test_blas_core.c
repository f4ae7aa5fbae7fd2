/* tests/kernels/test_blas_core.c - when ikada overrides OpenBLAS's core
 * choice (kernels/cpu/blas_core.h): only the Prescott fallback on a CPU with
 * AVX2 or AVX-512, and never against the caller's own OPENBLAS_CORETYPE. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/blas_core.h"

Test(blas_core, prescott_on_avx512_asks_for_skylakex)
{
    cr_assert_str_eq(ik_cpu_blas_core_for("Prescott", true, true, false), "SkylakeX");
}

Test(blas_core, prescott_on_avx2_asks_for_haswell)
{
    cr_assert_str_eq(ik_cpu_blas_core_for("Prescott", false, true, false), "Haswell");
}

Test(blas_core, a_true_sse3_cpu_keeps_prescott)
{
    cr_assert_null(ik_cpu_blas_core_for("Prescott", false, false, false));
}

Test(blas_core, the_callers_choice_stands)
{
    cr_assert_null(ik_cpu_blas_core_for("Prescott", true, true, true));
}

Test(blas_core, a_known_core_stands)
{
    cr_assert_null(ik_cpu_blas_core_for("SkylakeX", true, true, false));
    cr_assert_null(ik_cpu_blas_core_for("Haswell", true, true, false));
    cr_assert_null(ik_cpu_blas_core_for("Zen", false, true, false));
}

/* This process: once OPENBLAS_CORETYPE is set (as after the re-exec), the
 * rule asks for nothing, so `ikada` cannot re-execute itself in a loop. */
Test(blas_core, no_second_restart_once_set)
{
    setenv("OPENBLAS_CORETYPE", "Prescott", 1);
    cr_assert_null(ik_cpu_blas_better_core());
}

/* ikada run's check for its children: once made, a child asks for nothing
 * and need not load the library to know it, whatever the check found. */
Test(blas_core, a_parent_check_is_inherited)
{
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("IKADA_BLAS_CORE_CHECKED");
    ik_cpu_blas_pass_core();
    cr_assert_str_eq(getenv("IKADA_BLAS_CORE_CHECKED"), "1");
    cr_assert_null(ik_cpu_blas_better_core());
    unsetenv("OPENBLAS_CORETYPE");
    cr_assert_null(ik_cpu_blas_better_core(), "the marker alone settles it");
}
