/* kernels/device_cuda.c - device detection through the CUDA runtime, loaded
 * with dlopen on first use.
 *
 * ikada is not linked to libcudart: the dynamic loader would map it (and
 * cuBLAS) into every process, `ikada exec` of a command node included, at a
 * cost of milliseconds per start. Only the runtime API is asked (never
 * libcuda itself), so on a machine with no driver cudaGetDeviceCount fails
 * and we report 0 devices; without the runtime library, 0 as well, and
 * ik_device_describe says why. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "kernels/device.h"

/* The runtime API's calls used here; cudaError_t is an enum, 0 = cudaSuccess. */
typedef int cuda_int_out_fn(int *out);
typedef int cuda_void_fn(void);

struct cudart {
    void *lib;
    cuda_int_out_fn *get_device_count, *runtime_get_version;
    cuda_void_fn *get_last_error;
    char why[160]; /* when lib is NULL: dlopen's complaint */
};

static struct cudart rt;
static pthread_once_t rt_once = PTHREAD_ONCE_INIT;

/* The toolkit's copy first (configure found it), then the loader's search
 * path, where a machine with only the driver's runtime packages has it. */
static void load_cudart(void)
{
    const char *names[] = {IK_CUDART_PATH, IK_CUDART_SONAME};
    for (size_t i = 0; i < sizeof names / sizeof names[0] && rt.lib == NULL; i++) {
        rt.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (rt.lib == NULL)
            snprintf(rt.why, sizeof rt.why, "%s", dlerror());
    }
    if (rt.lib == NULL)
        return;
    rt.get_device_count = (cuda_int_out_fn *)dlsym(rt.lib, "cudaGetDeviceCount");
    rt.runtime_get_version = (cuda_int_out_fn *)dlsym(rt.lib, "cudaRuntimeGetVersion");
    rt.get_last_error = (cuda_void_fn *)dlsym(rt.lib, "cudaGetLastError");
    if (rt.get_device_count == NULL || rt.runtime_get_version == NULL || rt.get_last_error == NULL) {
        snprintf(rt.why, sizeof rt.why, "%s lacks cudaGetDeviceCount", IK_CUDART_SONAME);
        dlclose(rt.lib);
        rt.lib = NULL;
    }
}

static const struct cudart *cudart(void)
{
    pthread_once(&rt_once, load_cudart);
    return rt.lib ? &rt : NULL;
}

static int detected_count(void)
{
    const struct cudart *r = cudart();
    int n = 0;
    if (r == NULL)
        return 0;
    if (r->get_device_count(&n) != 0) {
        r->get_last_error(); /* clear the sticky error so later calls start clean */
        return 0;
    }
    return n;
}

/* IKADA_GPUS="0,2" keeps two devices; "" keeps none; unset keeps all. */
static int apply_env(int detected)
{
    const char *env = getenv("IKADA_GPUS");
    if (env == NULL)
        return detected;
    int n = 0;
    for (const char *p = env; *p != '\0';) {
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p)
            break;
        if (id >= 0 && id < detected)
            n++;
        p = (*end == ',') ? end + 1 : end;
    }
    return n;
}

int ik_device_gpu_count(void) { return apply_env(detected_count()); }

const char *ik_device_describe(void)
{
    static char text[224];
    const struct cudart *r = cudart();
    if (r == NULL) {
        snprintf(text, sizeof text, "cuda build, runtime not loaded: %s", rt.why);
        return text;
    }
    int runtime = 0;
    r->runtime_get_version(&runtime);
    int n = ik_device_gpu_count();
    snprintf(text, sizeof text, "cuda (runtime %d, %d device%s)", runtime, n, n == 1 ? "" : "s");
    return text;
}
