/* tests/cuda/cpu_module.c - the CPU stand-in of the CUDA module's table
 * (cpu_ops.h) as a module: tests/cuda/libikada-cuda-cpu.so exports
 * ik_cuda_ops_get as kernels/cuda/libikada-cuda.so does, so a test can point
 * IKADA_CUDA_MODULE at it and run the train node's `device: cuda` path,
 * loader and all, on a machine without a GPU (tests/train/test_train_cuda.sh). */
#include "tests/cuda/cpu_ops.h"

__attribute__((visibility("default"))) const struct ik_cuda_ops *ik_cuda_ops_get(int abi_version)
{
    return abi_version == IK_CUDA_ABI ? ik_test_cpu_cuda_ops() : NULL;
}
