/* tests/cuda/cpu_ops.h - a CPU stand-in of the CUDA module's table
 * (kernels/cuda/cuda_ops.h), for testing code that drives the module on a
 * machine without a GPU. Its "device memory" is host memory (->alloc is an
 * aligned malloc, ->memcpy_* are memcpy, ->synchronize does nothing, one
 * device named "CPU stand-in") and its kernels are the CPU references of
 * kernels/kernels.h with exactly the semantics each entry's comment in
 * cuda_ops.h states (overwrite or accumulate, in place or not, BF16 rounding
 * to nearest even), so a caller's results match the references' bits.
 *
 * It checks more than the module: a bad shape fails with the module's text,
 * and token and target indices, which the module reads on the device
 * unchecked, are range-checked ("embed_rows_bf16: tokens[3] = 9 (V unknown:
 * must be >= 0)"). ->alloc fills new memory with 0xff bytes (NaN floats, -1
 * ints), as cudaMalloc promises nothing: a caller that reads memory it never
 * wrote sees it here. Linked statically into test programs
 * (tests/cuda/Makefile.inc, IK_TEST_CPU_OPS); needs no CUDA. */
#ifndef IK_TESTS_CUDA_CPU_OPS_H
#define IK_TESTS_CUDA_CPU_OPS_H

#include "kernels/cuda/cuda_ops.h"

/* The stand-in's table: abi IK_CUDA_ABI, size sizeof(struct ik_cuda_ops),
 * every entry set. Static storage; the error text is per thread, as the
 * module's. Cannot fail. */
const struct ik_cuda_ops *ik_test_cpu_cuda_ops(void);

/* x rounded to BF16 as __float2bfloat16_rn does: nearest, ties to even; an
 * overflow rounds to infinity, infinities stay, every NaN becomes 0x7fff (the
 * canonical NaN CUDA gives). What ->to_bf16 stores. */
uint16_t ik_test_bf16_from_float(float x);
/* BF16 widened to fp32: exact (the 16 bits become the float's high half). */
float ik_test_bf16_to_float(uint16_t h);

#endif
