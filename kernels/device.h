/* kernels/device.h - which accelerators this process can use.
 *
 * The build picks one implementation: device_cuda.c asks the CUDA runtime,
 * device_none.c (CPU-only builds) always answers 0. Both honour IKADA_GPUS, a
 * comma-separated list of device ids ("" = none) that restricts detection the way
 * CUDA_VISIBLE_DEVICES does, so a user can keep ikada off a busy GPU. */
#ifndef IK_KERNELS_DEVICE_H
#define IK_KERNELS_DEVICE_H

/* Number of usable GPUs: 0 when there is no driver, no device or no CUDA build.
 * Cannot fail. */
int ik_device_gpu_count(void);

/* A one-line description of the build's accelerator support, e.g.
 * "cuda (runtime 13000, 1 device)" or "cpu-only build". Static storage. */
const char *ik_device_describe(void);

#endif
