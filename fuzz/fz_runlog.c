/* fuzz/fz_runlog.c - a run record (cache/runlog.h) as `ikada log` and gc
 * read it (ik_runlog_list). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "cache/runlog.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the string lengths go, so the reads cannot be optimised away. */
static volatile size_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *path;
    struct ik_cache *c = fz_cache();
    struct ik_diag d = IK_DIAG_INIT;
    if (path == NULL) {
        char *argv[] = {"ikada", "run", "g.yaml"};
        struct ik_run r = {.graph = "g.yaml", .started_ms = 1, .argv = argv, .argc = 3};
        if (ik_runlog_write(c, &r, &d) != 0)
            abort();
        path = fz_cache_file("runs");
    }
    if (!fz_mp_plausible(data, size))
        return 0;
    uint8_t *sealed = fz_reseal(data, size);
    fz_write(path, sealed, size);
    free(sealed);
    struct ik_run *runs = NULL;
    size_t n = 0;
    if (ik_runlog_list(c, 0, &runs, &n, &d) == 0) {
        /* What `ikada log` prints: touch every string. */
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            total += strlen(runs[i].id) + strlen(runs[i].graph);
            for (size_t j = 0; j < runs[i].argc; j++)
                total += strlen(runs[i].argv[j]);
            for (size_t j = 0; j < runs[i].n_nodes; j++)
                total += strlen(runs[i].nodes[j].name) + strlen(runs[i].nodes[j].status) +
                         (runs[i].nodes[j].error ? strlen(runs[i].nodes[j].error) : 0);
        }
        sink = total;
        ik_runs_free(runs, n);
    }
    fz_diag_done(&d);
    return 0;
}
