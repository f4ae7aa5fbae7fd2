/* base/sysmem.c - available memory, peak RSS and cores (sysmem.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/sysmem.h"

/* A number from the first line of path that starts with key (NULL: the first
 * line), times unit; 0 when absent or "max". */
static uint64_t read_number(const char *path, const char *key, uint64_t unit)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long long v = 0;
    while (fgets(line, sizeof line, f)) {
        if (key && strncmp(line, key, strlen(key)) != 0)
            continue;
        if (sscanf(line + (key ? strlen(key) : 0), " %llu", &v) != 1)
            v = 0;
        break;
    }
    fclose(f);
    return (uint64_t)v * unit;
}

uint64_t ik_mem_available(void)
{
    uint64_t avail = read_number("/proc/meminfo", "MemAvailable:", 1024);
    uint64_t max = read_number("/sys/fs/cgroup/memory.max", NULL, 1);
    uint64_t cur = read_number("/sys/fs/cgroup/memory.current", NULL, 1);
    if (max > 0 && max > cur && (avail == 0 || max - cur < avail))
        avail = max - cur;
    const char *env = getenv("IKADA_MEMORY_LIMIT");
    unsigned long long limit = env ? strtoull(env, NULL, 10) : 0;
    if (limit > 0 && (avail == 0 || limit < avail))
        avail = limit;
    return avail;
}

uint64_t ik_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024;
}

int ik_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
