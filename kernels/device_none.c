/* kernels/device_none.c - device detection for a build without CUDA: no GPUs,
 * whatever IKADA_GPUS says, because nothing here could drive one. */
#include "kernels/device.h"

int ik_device_gpu_count(void) { return 0; }

const char *ik_device_describe(void) { return "cpu-only build (configure found no nvcc)"; }
