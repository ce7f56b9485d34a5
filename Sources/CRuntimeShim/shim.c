// See runtime_shim.h. Everything after clone() in the child is a raw system call or a
// plain loop over memory the parent prepared: no malloc, no locks, no stdio.
#define _GNU_SOURCE
#include "runtime_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <spawn.h>
#include <stdlib.h>
#include <stdio.h>
#include <malloc.h>
#include <grp.h>
#include <unistd.h>
#include <termios.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/openat2.h>

// MARK: Reporting

static void copy_text(char *to, size_t size, const char *from) {
    size_t i = 0;
    if (from) for (; from[i] && i + 1 < size; i++) to[i] = from[i];
    to[i] = 0;
}

static void report(int fd, int kind, int error, int pid, const char *step, const char *detail) {
    struct shim_report message;
    memset(&message, 0, sizeof message);
    message.kind = kind;
    message.error = error;
    message.pid = pid;
    copy_text(message.step, sizeof message.step, step);
    copy_text(message.detail, sizeof message.detail, detail);
    ssize_t ignored = write(fd, &message, sizeof message);
    (void)ignored;
}

static __attribute__((noreturn)) void fail(const struct shim_config *c, const char *step, const char *detail) {
    report(c->report_fd, SHIM_REPORT_FAILURE, errno, 0, step, detail);
    _exit(125);
}

// MARK: Filesystem

#define PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
#define REMOUNTABLE (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

static int do_mount(const struct shim_mount *m) {
    unsigned long flags = m->flags & ~PROPAGATION;
    if (mount(m->source, m->target, m->fstype, flags, m->data) != 0) return -1;
    // A bind mount ignores its other flags until it is remounted.
    if ((flags & MS_BIND) && (flags & REMOUNTABLE)) {
        if (mount(NULL, m->target, NULL, MS_REMOUNT | MS_BIND | (flags & (REMOUNTABLE | MS_REC)), NULL) != 0) return -1;
    }
    if (m->flags & PROPAGATION) {
        if (mount(NULL, m->target, NULL, (m->flags & (PROPAGATION | MS_REC)), NULL) != 0) return -1;
    }
    return 0;
}

// The flags a read-only remount of a bind mount must keep (the kernel refuses to drop
// nosuid, nodev or noexec from a mount that has them locked).
static unsigned long kept_flags(const char *path) {
    struct statvfs s;
    unsigned long flags = 0;
    if (statvfs(path, &s) != 0) return 0;
    if (s.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (s.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (s.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    return flags;
}

static int in_root(char *buffer, size_t size, const char *root, const char *path) {
    size_t a = strlen(root), b = strlen(path);
    if (a + b + 1 > size) return 0;
    memcpy(buffer, root, a);
    memcpy(buffer + a, path, b + 1);
    return 1;
}

static void mount_range(const struct shim_config *c, int from, int to) {
    for (int i = from; i < to; i++) {
        const struct shim_mount *m = &c->mounts[i];
        if (m->make_directory && mkdir(m->target, 0755) != 0 && errno != EEXIST) fail(c, "mkdir", m->target);
        if (do_mount(m) != 0) {
            if (m->optional && errno == ENOENT) continue;
            fail(c, "mount", m->target);
        }
    }
}

// The default devices and /dev's symlinks. mknod, chown and symlink never follow a
// symlink in the last component, and /dev is a fresh tmpfs of the container's here.
static void make_devices(const struct shim_config *c) {
    size_t root_length = strlen(c->rootfs);
    for (int i = 0; i < c->device_count; i++) {
        const struct shim_device *d = &c->devices[i];
        // Nodes in subdirectories (/dev/cpu/0/cpuid, /dev/net/tun): their directories,
        // below the rootfs only, never following a symlink (mkdir does not).
        char parent[4096];
        copy_text(parent, sizeof parent, d->path);
        for (size_t at = root_length + 1; parent[at] && at < sizeof parent; at++) {
            if (parent[at] != '/') continue;
            parent[at] = '\0';
            if (mkdir(parent, 0755) != 0 && errno != EEXIST) fail(c, "mkdir for device", parent);
            parent[at] = '/';
        }
        if (mknod(d->path, d->mode, makedev(d->major, d->minor)) == 0) {
            if (lchown(d->path, d->uid, d->gid) != 0) fail(c, "chown", d->path);
            // The mode as given, not as the umask left it.
            if (chmod(d->path, d->mode & 07777) != 0) fail(c, "chmod", d->path);
            continue;
        }
        if (errno == EEXIST) continue;
        // A user namespace may not make device nodes: the host's own is bound over an
        // empty file instead (as runc does), and never chowned (that would chown the host's).
        if (errno != EPERM || strncmp(d->path, c->rootfs, root_length) != 0) fail(c, "mknod", d->path);
        int fd = open(d->path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd < 0) fail(c, "create device mount point", d->path);
        close(fd);
        if (mount(d->path + root_length, d->path, NULL, MS_BIND, NULL) != 0) fail(c, "bind device", d->path + root_length);
    }
    for (int i = 0; i < c->symlink_count; i++) {
        if (symlink(c->symlinks[i].target, c->symlinks[i].path) != 0 && errno != EEXIST) fail(c, "symlink", c->symlinks[i].path);
    }
}

// linux.sysctl, below `root` + /proc/sys (the container's proc, in its namespaces), before
// /proc/sys is made read-only.
static void write_sysctls(const struct shim_config *c, const char *root) {
    for (int i = 0; i < c->sysctl_count; i++) {
        char name[256], path[4096];
        copy_text(name, sizeof name, "/proc/sys/");
        copy_text(name + 10, sizeof name - 10, c->sysctl_keys[i]);
        if (root[0] ? !in_root(path, sizeof path, root, name) : (copy_text(path, sizeof path, name), 0)) fail(c, "sysctl (path too long)", c->sysctl_keys[i]);
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 || write(fd, c->sysctl_values[i], strlen(c->sysctl_values[i])) < 0) fail(c, "sysctl", c->sysctl_keys[i]);
        close(fd);
    }
}

static void set_up_filesystem(const struct shim_config *c) {
    // Nothing the container mounts travels back to the host.
    if (mount(NULL, "/", NULL, c->root_propagation ? c->root_propagation : (MS_REC | MS_SLAVE), NULL) != 0)
        fail(c, "make / a slave mount", "/");
    int system_mounts = c->system_mount_count < c->mount_count ? c->system_mount_count : c->mount_count;
    mount_range(c, 0, system_mounts);
    make_devices(c);
    mount_range(c, system_mounts, c->mount_count);
    write_sysctls(c, c->rootfs);

    // Masked and read-only paths, while the host's /dev/null is still at hand (as crun
    // does it): rootfs + path, in a buffer of our own.
    char path[4096];
    for (int i = 0; i < c->masked_count; i++) {
        if (!in_root(path, sizeof path, c->rootfs, c->masked_paths[i])) fail(c, "mask (path too long)", c->masked_paths[i]);
        struct stat st;
        if (stat(path, &st) != 0) {
            if (errno == ENOENT) continue;
            fail(c, "mask", c->masked_paths[i]);
        }
        int result = S_ISDIR(st.st_mode)
            ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0")
            : mount("/dev/null", path, NULL, MS_BIND, NULL);
        if (result == 0 && !S_ISDIR(st.st_mode)) result = mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
        if (result != 0) fail(c, "mask", c->masked_paths[i]);
    }
    for (int i = 0; i < c->readonly_count; i++) {
        if (!in_root(path, sizeof path, c->rootfs, c->readonly_paths[i])) fail(c, "make read-only (path too long)", c->readonly_paths[i]);
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) {
            if (errno == ENOENT) continue;
            fail(c, "make read-only", c->readonly_paths[i]);
        }
        if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC | kept_flags(path), NULL) != 0)
            fail(c, "make read-only", c->readonly_paths[i]);
    }

    // pivot_root(".", ".") then detach the old root, as runc does: no directory for the
    // old root is needed inside the new one.
    int old_root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (old_root < 0) fail(c, "open /", "/");
    int new_root = open(c->rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (new_root < 0) fail(c, "open rootfs", c->rootfs);
    if (fchdir(new_root) != 0) fail(c, "chdir rootfs", c->rootfs);
    if (syscall(SYS_pivot_root, ".", ".") != 0) fail(c, "pivot_root", c->rootfs);
    if (fchdir(old_root) != 0) fail(c, "chdir old root", "/");
    if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) != 0) fail(c, "make old root a slave", "/");
    if (umount2(".", MNT_DETACH) != 0) fail(c, "detach old root", "/");
    if (chdir("/") != 0) fail(c, "chdir /", "/");
    close(old_root);
    close(new_root);

    if (c->readonly_root) {
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags("/"), NULL) != 0)
            fail(c, "make rootfs read-only", "/");
    }
}

// MARK: Process

static void bring_loopback_up(const struct shim_config *c) {
    // ip link set lo up
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(c, "socket", "lo");
    struct ifreq request;
    memset(&request, 0, sizeof request);
    copy_text(request.ifr_name, sizeof request.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) fail(c, "get flags", "lo");
    request.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0) fail(c, "set lo up", "lo");
    close(fd);
}

static void open_console(const struct shim_config *c) {
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) fail(c, "open terminal", "/dev/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0) fail(c, "unlock terminal", "/dev/ptmx");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) fail(c, "open terminal peer", "/dev/ptmx");
    // The master goes to the parent over the socket, as runc's --console-socket does.
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    char byte = 0;
    struct iovec data = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr message = { .msg_iov = &data, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &master, sizeof(int));
    if (sendmsg(c->console_socket, &message, 0) != 1) fail(c, "send terminal", "");
    close(master);
    if (setsid() < 0) fail(c, "setsid", "");
    if (ioctl(slave, TIOCSCTTY, 0) != 0) fail(c, "set controlling terminal", "");
    for (int fd = 0; fd < 3; fd++) if (dup2(slave, fd) < 0) fail(c, "dup2 terminal", "");
    close(slave);
}

static void install_seccomp(const struct shim_config *c) {
    struct sock_fprog program = { .len = c->seccomp_length, .filter = (struct sock_filter *)c->seccomp_filter };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) fail(c, "seccomp", "");
}

static void set_capabilities(const struct shim_config *c) {
    for (int cap = 0; cap < 64; cap++) {
        if (c->cap_bounding & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) fail(c, "drop bounding capability", "");
    }
}

static void apply_capability_sets(const struct shim_config *c) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(c->cap_effective >> (32 * i));
        data[i].permitted = (uint32_t)(c->cap_permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(c->cap_inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &header, data) != 0) fail(c, "capset", "");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) fail(c, "clear ambient capabilities", "");
    for (int cap = 0; cap < 64; cap++) {
        if (!(c->cap_ambient & (1ULL << cap))) continue;
        // The kernel allows an ambient capability only if it is permitted and inheritable;
        // like crun, a configuration that asks for one that is not is not an error.
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EPERM && errno != EINVAL)
            fail(c, "raise ambient capability", "");
    }
}

static void write_decimal(char *buffer, size_t size, const char *prefix, long value) {
    char digits[24];
    int n = 0;
    do { digits[n++] = (char)('0' + value % 10); value /= 10; } while (value > 0 && n < 23);
    size_t at = 0;
    while (prefix[at] && at + 1 < size) { buffer[at] = prefix[at]; at++; }
    while (n > 0 && at + 1 < size) buffer[at++] = digits[--n];
    buffer[at] = 0;
}

static void set_identity(const struct shim_config *c) {
    if (c->set_capabilities && c->uid != 0) {
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail(c, "keep capabilities", "");
    }
    // (uid_t)-1 asks setresuid to leave an id unchanged: the process would keep root.
    if (c->uid == (uid_t)-1 || c->gid == (gid_t)-1) { errno = EINVAL; fail(c, "setuid", "4294967295"); }
    if (setgroups((size_t)c->group_count, c->groups) != 0) fail(c, "setgroups", "");
    if (setresgid(c->gid, c->gid, c->gid) != 0) fail(c, "setgid", "");
    if (setresuid(c->uid, c->uid, c->uid) != 0) fail(c, "setuid", "");
    // The ids the kernel holds now must be the ones asked for, all three of each. (A
    // seccomp filter already installed may deny getresuid: then setresuid's own success,
    // with -1 refused above, is what there is to go on.)
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid(&ruid, &euid, &suid) == 0 && (ruid != c->uid || euid != c->uid || suid != c->uid)) {
        errno = EPERM;
        fail(c, "setuid", "the uid applied differs from the one asked for");
    }
    if (getresgid(&rgid, &egid, &sgid) == 0 && (rgid != c->gid || egid != c->gid || sgid != c->gid)) {
        errno = EPERM;
        fail(c, "setgid", "the gid applied differs from the one asked for");
    }
}

// The candidates for a command without a slash: each directory of $PATH in turn joined
// with its name, an empty entry meaning the current directory (as execvp takes it).
// Entries too long for the buffer are skipped. No malloc: this runs in the clone child.
struct path_walk {
    const char *next;
    const char *name;
    size_t name_length;
    char candidate[4096];
};

static void path_walk_start(struct path_walk *w, const struct shim_config *c) {
    w->next = c->path && *c->path ? c->path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    w->name = c->argv[0];
    w->name_length = strlen(w->name);
}

static int path_walk_next(struct path_walk *w) {
    while (w->next) {
        const char *p = w->next;
        const char *end = strchr(p, ':');
        size_t length = end ? (size_t)(end - p) : strlen(p);
        w->next = end ? end + 1 : NULL;
        if (length + w->name_length + 2 > sizeof w->candidate) continue;
        size_t at = 0;
        if (length == 0) w->candidate[at++] = '.';
        memcpy(w->candidate + at, p, length);
        at += length;
        w->candidate[at++] = '/';
        memcpy(w->candidate + at, w->name, w->name_length + 1);
        return 1;
    }
    return 0;
}

// Before waiting for `start`: the command must be there to run, so that a missing one
// fails `create` (as runc reports it) rather than the container after it started.
static void check_command(const struct shim_config *c) {
    const char *name = c->argv[0];
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0) fail(c, "exec", name);
        return;
    }
    struct path_walk w;
    int denied = 0;
    path_walk_start(&w, c);
    while (path_walk_next(&w)) {
        struct stat st;
        if (stat(w.candidate, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(w.candidate, X_OK) == 0) return;
            denied = 1;
        }
    }
    errno = denied ? EACCES : ENOENT;
    fail(c, "exec", name);
}

static void exec_command(const struct shim_config *c) {
    const char *name = c->argv[0];
    if (strchr(name, '/')) {
        execve(name, c->argv, c->envp);
        fail(c, "exec", name);
    }
    // execvpe without malloc. EACCES from any directory wins over ENOENT, as the shell
    // reports it.
    struct path_walk w;
    int denied = 0;
    path_walk_start(&w, c);
    while (path_walk_next(&w)) {
        execve(w.candidate, c->argv, c->envp);
        if (errno == EACCES) denied = 1;
        else if (errno != ENOENT && errno != ENOTDIR) fail(c, "exec", name);
    }
    errno = denied ? EACCES : ENOENT;
    fail(c, "exec", name);
}

// Closes every descriptor the child was not given a use for. It must not wait for execve:
// a child that waits (OCI `create`) would otherwise keep the ends of whatever pipes and
// sockets its parent had open, and whoever waits on those for EOF would wait with it.
static void close_other_fds(const struct shim_config *c) {
    int keep[72];
    int count = 0;
    keep[count++] = c->report_fd;
    if (c->console_socket >= 0) keep[count++] = c->console_socket;
    if (c->start_fifo_fd >= 0) keep[count++] = c->start_fifo_fd;
    if (c->userns_sync_fd >= 0) keep[count++] = c->userns_sync_fd;
    for (int i = 0; i < 3; i++) if (c->stdio[i] >= 0) keep[count++] = c->stdio[i];
    for (int i = 0; i < c->namespace_count && count < 64; i++) keep[count++] = c->namespace_fds[i];
    for (int i = 0; i < c->cgroup_count && count < 72; i++) keep[count++] = c->cgroup_fds[i];
    // Insertion sort: a handful of numbers.
    for (int i = 1; i < count; i++) {
        int value = keep[i], j = i - 1;
        while (j >= 0 && keep[j] > value) { keep[j + 1] = keep[j]; j--; }
        keep[j + 1] = value;
    }
    unsigned int from = 3;
    for (int i = 0; i < count; i++) {
        if (keep[i] < (int)from) continue;
        if ((unsigned int)keep[i] > from) syscall(SYS_close_range, from, (unsigned int)keep[i] - 1, 0);
        from = (unsigned int)keep[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

// The command starts with no signal blocked or ignored, whatever its caller's were (a
// process spawned from a thread that blocks signals passes its mask on).
static void reset_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    for (int signal = 1; signal < NSIG; signal++) {
        if (signal != SIGKILL && signal != SIGSTOP) sigaction(signal, &action, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

// In a new user namespace: wait for the parent to map it, then act as its root (files the
// child creates must be owned by a mapped id).
static void enter_user_namespace(const struct shim_config *c) {
    char byte;
    if (read(c->userns_sync_fd, &byte, 1) != 1) fail(c, "wait for the user namespace's id maps", "");
    close(c->userns_sync_fd);
    if (setresgid(0, 0, 0) != 0) fail(c, "setresgid in the user namespace", "0");
    if (setresuid(0, 0, 0) != 0) fail(c, "setresuid in the user namespace", "0");
}

static __attribute__((noreturn)) void child(const struct shim_config *c, pid_t parent) {
    reset_signals();
    close_other_fds(c);
    if (c->userns_sync_fd >= 0) enter_user_namespace(c);
    if (c->parent_death_signal) {
        if (prctl(PR_SET_PDEATHSIG, c->parent_death_signal, 0, 0, 0) != 0) fail(c, "set parent-death signal", "");
        // The parent may have died before prctl: then ours is not the pid we were forked
        // from. (In a new pid namespace the parent is not visible at all: getppid is 0.)
        if (!(c->clone_flags & CLONE_NEWPID) && getppid() != parent) _exit(125);
    }
    for (int i = 0; i < c->namespace_count; i++) {
        if (setns(c->namespace_fds[i], c->namespace_types[i]) != 0) fail(c, "setns", "");
    }
    if (c->fork_after_setns) {
        pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0) fail(c, "clone into the container's pid namespace", "");
        if (pid > 0) {
            report(c->report_fd, SHIM_REPORT_PID, 0, pid, "", "");
            _exit(0);
        }
    }
    for (int i = 0; i < c->cgroup_count; i++) {
        if (write(c->cgroup_fds[i], "0", 1) != 1) fail(c, "join cgroup", "");
    }
    if (c->console_socket < 0) {
        if (c->new_session && setsid() < 0) fail(c, "setsid", "");
        for (int fd = 0; fd < 3; fd++) {
            if (c->stdio[fd] < 0) continue;
            if (c->stdio[fd] == fd) {
                if (fcntl(fd, F_SETFD, 0) != 0) fail(c, "keep stdio", "");
            } else if (dup2(c->stdio[fd], fd) < 0) {
                fail(c, "dup2 stdio", "");
            }
        }
    }
    if (c->rootfs) set_up_filesystem(c);
    if (c->console_socket >= 0) open_console(c);
    if (c->loopback_up) bring_loopback_up(c);
    if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) != 0) fail(c, "sethostname", c->hostname);
    if (!c->rootfs) write_sysctls(c, "");
    for (int i = 0; i < c->rlimit_count; i++) {
        if (setrlimit(c->rlimits[i].resource, &c->rlimits[i].limit) != 0) {
            char which[32];
            write_decimal(which, sizeof which, "resource ", c->rlimits[i].resource);
            fail(c, "setrlimit", which);
        }
    }
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, so it goes in before
    // capabilities are dropped (as runc orders it); otherwise it goes in last.
    int early_seccomp = c->seccomp_filter && !c->no_new_privileges;
    if (early_seccomp) install_seccomp(c);
    if (c->set_capabilities) set_capabilities(c);
    set_identity(c);
    if (c->set_capabilities) apply_capability_sets(c);
    if (c->cwd && chdir(c->cwd) != 0) fail(c, "chdir", c->cwd);
    // Every descriptor but stdio closes at execve; the report pipe stays usable until then.
    unsigned int first = 3 + (c->preserve_fds > 0 ? (unsigned int)c->preserve_fds : 0);
    for (unsigned int fd = 3; fd < first; fd++) fcntl((int)fd, F_SETFD, 0);
    if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(c, "close_range", "");
    if (c->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(c, "no_new_privs", "");
    if (c->apparmor_profile) {
        int fd = open("/proc/thread-self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
        if (fd < 0) fd = open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
        if (fd < 0) fail(c, "apparmor", c->apparmor_profile);
        char command[256];
        copy_text(command, sizeof command, "exec ");
        copy_text(command + 5, sizeof command - 5, c->apparmor_profile);
        if (write(fd, command, strlen(command)) < 0) fail(c, "apparmor", c->apparmor_profile);
        close(fd);
    }
    if (c->start_fifo_fd >= 0) {
        check_command(c);
        report(c->report_fd, SHIM_REPORT_READY, 0, 0, "", "");
        char path[64];
        write_decimal(path, sizeof path, "/proc/self/fd/", c->start_fifo_fd);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) fail(c, "wait for start", "exec.fifo");
        close(fd);
    }
    if (c->seccomp_filter && !early_seccomp) install_seccomp(c);
    exec_command(c);
    _exit(127);
}

struct start { const struct shim_config *config; pid_t parent; };

static int start_child(void *argument) {
    struct start *start = argument;
    child(start->config, start->parent);
}

pid_t shim_spawn(const struct shim_config *config) {
    pid_t parent = getpid();
    if (config->start_fifo_fd >= 0 || config->userns_sync_fd >= 0) {
        // A child that waits for `start`, or for its user namespace's id maps, cannot share
        // our memory while we carry on: a fork-like clone, on its own copy of this thread's
        // stack.
        pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)config->clone_flags | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid == 0) child(config, parent);
        return pid;
    }
    // Otherwise as posix_spawn does it: the child borrows our memory (no page tables to
    // copy, which for a 45 MB binary is most of the cost of a fork) on a stack of its own,
    // and we wait (CLONE_VFORK) until it has exec'd or failed.
    size_t size = 256 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    struct start start = { config, parent };
    pid_t pid = clone(start_child, (char *)stack + size, config->clone_flags | CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
    int saved = errno;
    munmap(stack, size);
    errno = saved;
    return pid;
}

// MARK: Parent helpers

static volatile sig_atomic_t forward_to = -1;
static int winch_pipe[2] = { -1, -1 };

static void forward(int signal) {
    if (signal == SIGWINCH) {
        // A terminal's new size is for the relay to copy, not a signal for the command.
        int saved = errno;
        if (winch_pipe[1] >= 0) { ssize_t ignored = write(winch_pipe[1], "w", 1); (void)ignored; }
        errno = saved;
        return;
    }
    if (forward_to > 0) kill(forward_to, signal);
}

int shim_window_changes(void) {
    if (winch_pipe[0] < 0 && pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    return winch_pipe[0];
}

void shim_forward_signals(pid_t pid) {
    static const int signals[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM };
    forward_to = pid;
    // A caller that blocks them (as some process spawners leave it) would never forward.
    sigset_t forwarded;
    sigemptyset(&forwarded);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&forwarded, signals[i]);
    if (pid > 0) sigprocmask(SIG_UNBLOCK, &forwarded, NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = pid > 0 ? forward : SIG_DFL;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaction(signals[i], &action, NULL);
}

int shim_copy_window_size(int from, int to) {
    struct winsize size;
    if (ioctl(from, TIOCGWINSZ, &size) != 0) return -1;
    return ioctl(to, TIOCSWINSZ, &size);
}

int shim_openat2(int dirfd, const char *path, int flags, unsigned int mode, unsigned long long resolve) {
    struct open_how how = { .flags = (unsigned long long)flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int shim_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int shim_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

pid_t shim_spawn_daemon(const char *path, char *const argv[], char *const envp[], int pass_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pass_fd, 3);
    // Nothing else: an inherited pipe end would keep whoever reads the other end waiting
    // for as long as the monitor lives.
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    pid_t pid = -1;
    int error = posix_spawn(&pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) {
        errno = error;
        return -1;
    }
    return pid;
}

int shim_console_pair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

int shim_receive_fd(int socket) {
    char control[CMSG_SPACE(sizeof(int))];
    char byte;
    struct iovec data = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr message = { .msg_iov = &data, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    if (recvmsg(socket, &message, MSG_CMSG_CLOEXEC) != 1) return -1;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_type != SCM_RIGHTS) { errno = EPROTO; return -1; }
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return fd;
}

static long release_pages(int only_self);

long shim_release_startup_memory(void) { return release_pages(1); }
long shim_release_file_pages(void) { return release_pages(0); }

static long release_pages(int only_self) {
    malloc_trim(0);
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) return 0;
    self[length] = 0;
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return 0;
    char line[4608];
    long advised = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char permissions[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, permissions, &path_at) < 3 || path_at == 0) continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = 0;
        // Only clean, file-backed pages (of our own binary, or of any file): nothing that holds state.
        if (path[0] != '/' || permissions[1] == 'w' || (only_self && strcmp(path, self) != 0)) continue;
        if (madvise((void *)start, end - start, MADV_PAGEOUT) == 0) advised += (long)(end - start);
    }
    fclose(maps);
    return advised;
}

int shim_record_syscalls(char *const argv[], unsigned char seen[1024]) {
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) _exit(126);
        raise(SIGSTOP);
        execv(argv[0], argv);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status;
    if (waitpid(child, &status, 0) < 0) return -1;
    long options = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                   PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
    ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)options);
    ptrace(PTRACE_SYSCALL, child, NULL, NULL);
    int result = -1;
    while (1) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0) break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child) result = status;
            continue;
        }
        int signal = 0;
        if (WIFSTOPPED(status)) {
            int stop = WSTOPSIG(status);
            if (stop == (SIGTRAP | 0x80)) {
                struct user_regs_struct registers;
                if (ptrace(PTRACE_GETREGS, pid, NULL, &registers) == 0 && registers.orig_rax < 1024) seen[registers.orig_rax] = 1;
            } else if (stop == SIGTRAP || stop == SIGSTOP) {
                // fork/clone/exec events and new children's first stop: not for the program.
            } else {
                signal = stop;
            }
        }
        ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)signal);
    }
    return result;
}
