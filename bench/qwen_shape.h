/* bench/qwen_shape.h - a model of Qwen2.5-0.5B's shape (its config.json's
 * fields: D 896, F 4864, 24 layers, 14 heads over 2 KV heads, V 151936, tied
 * embeddings) with weights uniform in [-0.02, 0.02) and unit norms, for the
 * benches. Exits with the message on failure. */
#ifndef IK_BENCH_QWEN_SHAPE_H
#define IK_BENCH_QWEN_SHAPE_H

struct ik_lm_model;
struct ik_lm_model *ik_bench_qwen_shape(void);

#endif
