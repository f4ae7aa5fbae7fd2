/* base/assert.c - the failure path of IK_ASSERT. */
#include <stdio.h>
#include <stdlib.h>

#include "base/assert.h"

void ik__assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "ikada: assertion failed: %s at %s:%d\n", what, file, line);
    abort();
}
