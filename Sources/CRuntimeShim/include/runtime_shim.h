// The only code between clone() and execve() in a container's first process (and in an
// exec'd process). Swift computes everything beforehand and hands it over in a
// shim_config; the child walks a straight line of steps, and the first one that fails is
// reported to the parent as (step, errno, detail) over a close-on-exec pipe. A clean EOF on
// that pipe means execve succeeded.
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <linux/openat2.h>
#include <sys/xattr.h>

// Linux flags glibc hides behind _GNU_SOURCE, which Swift's Glibc module is built without.
#define SHIM_O_PATH 010000000
#define SHIM_AT_EMPTY_PATH 0x1000

struct shim_mount {
    const char *source;
    const char *target;       // absolute path on the host, before pivot_root
    const char *fstype;
    unsigned long flags;
    const char *data;
    int optional;             // a missing source or target is skipped
    int make_directory;       // mkdir the target first (inside a tmpfs the child mounted)
};

struct shim_device {
    const char *path;         // absolute, before pivot_root
    unsigned int mode;        // S_IFCHR | permissions
    unsigned int major, minor;
    uid_t uid;
    gid_t gid;
};

struct shim_symlink {
    const char *target;       // what the link points at
    const char *path;         // absolute, before pivot_root
};

struct shim_rlimit {
    int resource;
    struct rlimit limit;
};

struct shim_config {
    int clone_flags;          // CLONE_NEWPID | CLONE_NEWNS | …

    // setns() before anything else, in this order (net, ipc, uts, pid, mnt for an exec).
    const int *namespace_fds;
    const int *namespace_types;
    int namespace_count;
    // An exec into a running container's pid namespace needs one more clone: the process
    // that called setns() stays outside. The grandchild becomes the caller's own child
    // (CLONE_PARENT) and its pid travels over the report pipe.
    int fork_after_setns;

    // "0" is written to each (open fds of cgroup.procs files): the child moves itself.
    const int *cgroup_fds;
    int cgroup_count;

    // stdio: fds dup2'ed onto 0, 1 and 2 (-1 leaves that one as inherited).
    int stdio[3];
    // >= 0: a socket to send a new terminal's master over. The child opens the terminal
    // from its own /dev/ptmx (so the slave is in its /dev/pts), makes the slave its stdio
    // and controlling terminal, and passes the master to whoever relays it.
    int console_socket;
    int new_session;
    int parent_death_signal;

    // Filesystem (only with CLONE_NEWNS): rootfs is a mount point once mounts[0] is done.
    const char *rootfs;
    unsigned long root_propagation; // MS_SLAVE or MS_PRIVATE, with MS_REC
    const struct shim_mount *mounts;
    int mount_count;
    // Devices and symlinks are made after the first system_mount_count mounts and before
    // the rest (the user's binds), so none can land in a host directory bound over /dev.
    int system_mount_count;
    const struct shim_device *devices;
    int device_count;
    const struct shim_symlink *symlinks;
    int symlink_count;
    // Paths inside the container, masked and made read-only before pivot_root.
    const char *const *masked_paths;
    int masked_count;
    const char *const *readonly_paths;
    int readonly_count;
    int readonly_root;

    const char *hostname;
    int loopback_up;
    // linux.sysctl: keys with '/' for '.', written below /proc/sys after pivot_root (so in
    // the container's own namespaces).
    const char *const *sysctl_keys;
    const char *const *sysctl_values;
    int sysctl_count;
    const struct shim_rlimit *rlimits;
    int rlimit_count;

    // Identity.
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
    const char *cwd;

    // Confinement (filled in by Security): -1 / 0 / NULL leave a step out.
    int set_capabilities;
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    int no_new_privileges;
    const char *apparmor_profile;
    const void *seccomp_filter;   // struct sock_filter[]
    unsigned short seccomp_length;

    // OCI `create`: wait here, just before execve, until `start` opens the FIFO.
    int start_fifo_fd;            // O_PATH fd of the FIFO, or -1

    // With CLONE_NEWUSER: the child reads one byte from this fd (the parent writes it once
    // it has written the new namespace's uid_map and gid_map), then becomes its root.
    int userns_sync_fd;           // or -1

    // Descriptors 3 .. 3+preserve_fds-1 stay open across execve (runc's --preserve-fds).
    int preserve_fds;

    char *const *argv;
    char *const *envp;
    const char *path;             // $PATH to search when argv[0] has no slash

    int report_fd;                // write end of the report pipe (close-on-exec)
};

// What the child says on the report pipe: a failure, or (exec) the final pid.
struct shim_report {
    int32_t kind;                 // 1 failure, 2 pid, 3 ready
    int32_t error;
    int32_t pid;
    char step[64];
    char detail[180];
};

// READY: all set up, now waiting on the start FIFO (OCI `create`).
enum { SHIM_REPORT_FAILURE = 1, SHIM_REPORT_PID = 2, SHIM_REPORT_READY = 3 };

// clone()s the child and returns its pid (or -1 with errno). Only the child runs the steps.
pid_t shim_spawn(const struct shim_config *config);

// Foreground runs: forward these signals to pid until shim_forward_signals(-1).
void shim_forward_signals(pid_t pid);

// A descriptor that becomes readable (one byte per change) when our terminal is resized,
// while signals are being forwarded.
int shim_window_changes(void);

// TIOCGWINSZ from one tty to TIOCSWINSZ on another; 0 on success.
int shim_copy_window_size(int from, int to);

// openat2(2), which glibc 2.36 does not wrap: resolve `path` below `dirfd` as the kernel
// does for RESOLVE_IN_ROOT and friends.
int shim_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve);

// pipe2(fds, O_CLOEXEC) and pidfd_open(2), which Swift's Glibc module does not show.
int shim_pipe_cloexec(int fds[2]);
int shim_pidfd_open(pid_t pid);

// clone(2) namespace flags, also hidden behind _GNU_SOURCE.
#define SHIM_CLONE_NEWNS     0x00020000
#define SHIM_CLONE_NEWCGROUP 0x02000000
#define SHIM_CLONE_NEWUTS    0x04000000
#define SHIM_CLONE_NEWIPC    0x08000000
#define SHIM_CLONE_NEWUSER   0x10000000
#define SHIM_CLONE_NEWPID    0x20000000
#define SHIM_CLONE_NEWNET    0x40000000

// posix_spawn of a process in a session of its own, stdio on /dev/null and `pass_fd` as
// fd 3: the container monitor, which outlives the command that started it.
pid_t shim_spawn_daemon(const char *path, char *const argv[], char *const envp[], int pass_fd);

// A socket pair for console_socket (close-on-exec), and receiving the master on our end.
int shim_console_pair(int fds[2]);
int shim_receive_fd(int socket);

// For a process that will mostly sleep (the container monitor): gives back the heap it no
// longer uses and asks the kernel to drop the pages of its own executable it mapped for
// start-up; the few it needs later fault back in. Returns the bytes advised.
long shim_release_startup_memory(void);
// The same for a daemon that loaded shared libraries for its start-up (the overlay agent:
// libcurl and its TLS libraries): the clean, read-only pages of every file it maps, not
// only its executable's.
long shim_release_file_pages(void);

// `seccomp record`: runs argv (argv[0] a path) under ptrace, following every fork,
// vfork, clone and exec, and marks in `seen` (1024 entries) each x86_64 syscall number any
// of its processes made. Returns the command's exit status as waitpid reports it, or -1.
int shim_record_syscalls(char *const argv[], unsigned char seen[1024]);
