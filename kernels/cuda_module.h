/* kernels/cuda_module.h - finding and loading the CUDA module
 * (kernels/cuda/libikada-cuda.so, whose table kernels/cuda/cuda_ops.h
 * describes). ikada links no CUDA library: the first node that computes on
 * a GPU loads the module, which brings libcudart, cuBLAS and cuBLASLt. */
#ifndef IK_KERNELS_CUDA_MODULE_H
#define IK_KERNELS_CUDA_MODULE_H

struct ik_cuda_ops;
struct ik_diag;

/* The module's table, loaded on first call and kept for the process. Looks
 * in $IKADA_CUDA_MODULE, then beside the running binary
 * (kernels/cuda/libikada-cuda.so of a build folder), then in the install's
 * pkglibdir. IK_ENOTBUILT when none is found (naming where it looked, and
 * whether this build has the module at all) or when the one found is from
 * another build (its ABI differs). */
int ik_cuda_module_open(const struct ik_cuda_ops **out, struct ik_diag *d);

#endif
