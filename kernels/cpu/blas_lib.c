/* kernels/cpu/blas_lib.c - OpenBLAS loaded on first use (blas_lib.h). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cpu/blas_lib.h"

/* The soname a `-lopenblas` link records on Debian (libopenblas0-pthread,
 * through the alternatives system). */
#define OPENBLAS_SONAME "libopenblas.so.0"

static struct ik_cpu_blas blas;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void *symbol(void *lib, const char *name)
{
    void *p = dlsym(lib, name);
    if (p == NULL) {
        fprintf(stderr, "ikada: %s has no %s (%s): is it OpenBLAS 0.3 or later?\n",
                OPENBLAS_SONAME, name, dlerror());
        abort();
    }
    return p;
}

static void load(void)
{
    void *lib = dlopen(OPENBLAS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "ikada: cannot load OpenBLAS: %s (install Debian's libopenblas0)\n",
                dlerror());
        abort();
    }
    /* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
    *(void **)&blas.sgemm = symbol(lib, "cblas_sgemm");
    *(void **)&blas.set_num_threads = symbol(lib, "openblas_set_num_threads");
    *(void **)&blas.get_num_threads = symbol(lib, "openblas_get_num_threads");
    *(void **)&blas.get_corename = symbol(lib, "openblas_get_corename");
}

const struct ik_cpu_blas *ik_cpu_blas(void)
{
    pthread_once(&blas_once, load);
    return &blas;
}
