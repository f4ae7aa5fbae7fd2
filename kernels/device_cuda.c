/* kernels/device_cuda.c - device detection through the CUDA runtime.
 *
 * Only the runtime API is linked (never -lcuda), so on a machine with no driver
 * cudaGetDeviceCount fails and we report 0 devices: the binary still runs on CPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>

#include "kernels/device.h"

static int detected_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky error so later calls start clean */
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
    static char text[96];
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    int n = ik_device_gpu_count();
    snprintf(text, sizeof text, "cuda (runtime %d, %d device%s)", runtime, n, n == 1 ? "" : "s");
    return text;
}
