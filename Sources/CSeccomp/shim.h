// libseccomp, and what Swift cannot call directly: its function-like macros for actions,
// and exporting a filter into memory.
#pragma once
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

static inline uint32_t nc_seccomp_errno(uint16_t code) { return SCMP_ACT_ERRNO(code); }
static inline uint32_t nc_seccomp_trace(uint16_t code) { return SCMP_ACT_TRACE(code); }
static inline uint32_t nc_seccomp_allow(void) { return SCMP_ACT_ALLOW; }
static inline uint32_t nc_seccomp_kill_thread(void) { return SCMP_ACT_KILL_THREAD; }
static inline uint32_t nc_seccomp_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
static inline uint32_t nc_seccomp_trap(void) { return SCMP_ACT_TRAP; }
static inline uint32_t nc_seccomp_log(void) { return SCMP_ACT_LOG; }
static inline uint32_t nc_seccomp_native_arch(void) { return seccomp_arch_native(); }

// The filter as BPF (`pfc` 0) or as libseccomp's pseudo-C (`pfc` 1), in malloc'ed memory.
// 0, or a negative errno.
static inline int nc_seccomp_export(scmp_filter_ctx context, int pfc, uint8_t **bytes, size_t *length) {
    int fd = (int)syscall(SYS_memfd_create, "seccomp", 1 /* MFD_CLOEXEC */);
    if (fd < 0) return -1;
    int result = pfc ? seccomp_export_pfc(context, fd) : seccomp_export_bpf(context, fd);
    if (result != 0) { close(fd); return result; }
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    *bytes = malloc(size > 0 ? (size_t)size : 1);
    *length = 0;
    while (*length < (size_t)size) {
        ssize_t count = read(fd, *bytes + *length, (size_t)size - *length);
        if (count <= 0) break;
        *length += (size_t)count;
    }
    close(fd);
    return 0;
}
