/* base/assert.h - checks of the program's own invariants (redis serverAssert).
 *
 * IK_ASSERT(cond) prints "ikada: assertion failed: COND at FILE:LINE" to
 * stderr and abort()s when cond is false. Unlike <assert.h> it is active in
 * every build (NDEBUG does not remove it), so cond is always evaluated and may
 * call the function whose result it checks. It is for what cannot happen short
 * of a bug or exhausted memory; anything user input can reach returns an error
 * with a struct ik_diag instead (base/diag.h). */
#ifndef IK_BASE_ASSERT_H
#define IK_BASE_ASSERT_H

#define IK_ASSERT(cond) ((cond) ? (void)0 : ik__assert_fail(#cond, __FILE__, __LINE__))

/* Prints "ikada: assertion failed: WHAT at FILE:LINE" and aborts. For checks
 * that state the failure in their own words (base/mp.c names the begin of a
 * miscounted map). */
_Noreturn void ik__assert_fail(const char *what, const char *file, int line);

#endif
