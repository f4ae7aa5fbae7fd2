/* base/error.c - messages and names for the codes in error.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

const char *ik_strerror(int code)
{
    switch (code) {
#define IK_ERR_MSG(name, value, msg) case IK_##name: return msg;
        IK_ERRNO_MAP(IK_ERR_MSG)
#undef IK_ERR_MSG
    default:
        break;
    }
    if (code < 0 && code > -4096)
        return strerror(-code);
    return code == 0 ? "success" : "unknown error";
}

const char *ik_err_name(int code)
{
    switch (code) {
#define IK_ERR_NAME(name, value, msg) case IK_##name: return "IK_" #name;
        IK_ERRNO_MAP(IK_ERR_NAME)
#undef IK_ERR_NAME
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        const char *name = strerrorname_np(-code);
        if (name != NULL)
            return name;
    }
    return "UNKNOWN";
}
