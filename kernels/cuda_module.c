/* kernels/cuda_module.c - the CUDA module's loader (cuda_module.h). */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/error.h"
#include "config.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda_module.h"

#define MODULE_NAME "libikada-cuda.so"

#ifdef IK_HAVE_CUDA
#define BUILD_NOTE "make builds it where configure found nvcc"
#else
#define BUILD_NOTE "this build has none: configure found no nvcc (./configure --with-cuda)"
#endif

static struct {
    const struct ik_cuda_ops *ops;
    char why[1024]; /* when ops is NULL */
} loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* path's table, or NULL with why appended to loaded.why. */
static const struct ik_cuda_ops *try_path(const char *path)
{
    size_t n = strlen(loaded.why);
    char *w = loaded.why + n;
    size_t cap = sizeof loaded.why - n;
    if (access(path, F_OK) != 0) {
        snprintf(w, cap, "%s%s (absent)", n ? "; " : "", path);
        return NULL;
    }
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(w, cap, "%s%s: %s", n ? "; " : "", path, dlerror());
        return NULL;
    }
    ik_cuda_ops_get_fn get = (ik_cuda_ops_get_fn)dlsym(lib, IK_CUDA_OPS_SYMBOL);
    const struct ik_cuda_ops *ops = get ? get(IK_CUDA_ABI) : NULL;
    if (ops == NULL || ops->size < sizeof(struct ik_cuda_ops)) {
        snprintf(w, cap, "%s%s: from another build of ikada (ABI %d expected)", n ? "; " : "", path,
                 IK_CUDA_ABI);
        dlclose(lib);
        return NULL;
    }
    return ops; /* kept loaded for the process */
}

static void load(void)
{
    const char *env = getenv("IKADA_CUDA_MODULE");
    if (env && *env) {
        loaded.ops = try_path(env);
        return; /* an explicit choice is the only one tried */
    }
    char exe[PATH_MAX], path[PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(path, sizeof path, "%s/kernels/cuda/" MODULE_NAME, exe);
        if ((loaded.ops = try_path(path)) != NULL)
            return;
    }
#ifdef IK_PKGLIBDIR /* Makefile.am passes it; other builds of these sources (fuzz/) do not */
    loaded.ops = try_path(IK_PKGLIBDIR "/" MODULE_NAME);
#endif
}

int ik_cuda_module_open(const struct ik_cuda_ops **out, struct ik_diag *d)
{
    pthread_once(&once, load);
    if (loaded.ops == NULL)
        return ik_diag_set(d, IK_ENOTBUILT, "no usable CUDA module %s: %s; %s", MODULE_NAME,
                           loaded.why, BUILD_NOTE);
    *out = loaded.ops;
    return 0;
}
