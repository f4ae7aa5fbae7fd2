/* base/error.h - ikada's error codes: one list, never renumbered.
 *
 * Functions return 0 on success and a negative code on failure. System failures
 * pass through as -errno; ikada's own codes sit in a reserved range far below any
 * errno. The human-readable detail of a failure travels separately, in a
 * struct ik_diag (base/diag.h): the code says what class of thing went wrong,
 * the diag says where and why. */
#ifndef IK_BASE_ERROR_H
#define IK_BASE_ERROR_H

/* XX(name, value, message). Append only; values are stable. */
#define IK_ERRNO_MAP(XX)                                                   \
    XX(EPARSE, -5000, "malformed input")                                   \
    XX(EVALIDATE, -5001, "invalid graph")                                  \
    XX(ECORRUPT, -5002, "corrupt object")                                  \
    XX(EHTTP, -5003, "HTTP request failed")                                \
    XX(ECUDA, -5004, "CUDA error")                                         \
    XX(ENOTBUILT, -5005, "feature not built in")                           \
    XX(ECANCELED, -5006, "canceled")                                       \
    XX(ENOTFOUND, -5007, "not found")                                      \
    XX(EAMBIGUOUS, -5008, "ambiguous reference")                           \
    XX(ENODE, -5009, "node failed")                                        \
    XX(EVERSION, -5010, "unsupported version")                             \
    XX(EUSAGE, -5011, "bad command line")

enum {
#define IK_ERR_ENUM(name, value, msg) IK_##name = (value),
    IK_ERRNO_MAP(IK_ERR_ENUM)
#undef IK_ERR_ENUM
};

/* Message for any code this project returns (ikada's own or -errno). Static
 * storage; cannot fail. */
const char *ik_strerror(int code);

/* Symbolic name, e.g. "IK_EPARSE" or "ENOENT". Static storage; cannot fail. */
const char *ik_err_name(int code);

#endif
