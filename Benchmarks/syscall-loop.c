// Times a tight loop of one syscall: the per-syscall cost, which a seccomp filter adds to.
// getppid is allowed outright, so the kernel's seccomp action cache (Linux 5.11+) lets it
// through without running the filter; personality(0xffffffff) (a query) is allowed by an
// argument check, so the filter runs for every call.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
    long count = argc > 1 ? atol(argv[1]) : 2000000;
    int personality = argc > 2 && strcmp(argv[2], "personality") == 0;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (personality) {
        for (long i = 0; i < count; i++) syscall(SYS_personality, 0xffffffffUL);
    } else {
        for (long i = 0; i < count; i++) syscall(SYS_getppid);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
    printf("%.1f\n", ns / count);
    return 0;
}
