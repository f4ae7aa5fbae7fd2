/* nodes/train/coverage.h - what an adapter trains, as the train report says
 * it: per kind of projection, the layers adapted out of the layers that have
 * it ("in_proj 27/27, out_proj 27/27, q,k,v,o 4/4, up,down 25/25" for
 * NemotronH-9B with targets: all), and the base parameters inside adapted
 * projections, so a run that trains fewer layers than meant shows at once. */
#ifndef IK_NODES_TRAIN_COVERAGE_H
#define IK_NODES_TRAIN_COVERAGE_H

#include <stddef.h>
#include <stdint.h>

struct ik_lm_model;
struct ik_lora;

struct ik_train_coverage {
    char text[160];   /* the per-kind counts, as above */
    uint64_t covered; /* base weights of the adapted projections */
    uint64_t total;   /* every base parameter (embeddings, norms, the Mamba scalars included) */
};

/* The coverage of adapter a on model m. Cannot fail. */
void ik_train_coverage_of(const struct ik_lm_model *m, const struct ik_lora *a,
                          struct ik_train_coverage *cov);

#endif
