/// netctl's built-in seccomp profile: what every container runs under unless it asks for
/// another (`--security-opt seccomp=PATH`) or for none (`seccomp=unconfined`,
/// `--privileged`). Its decisions are Docker's: the same syscalls allowed, the same ones
/// allowed only with a capability, the same argument checks, clone3 answering ENOSYS
/// without CAP_SYS_ADMIN so that libc falls back to clone (whose flags can be checked), and
/// syscalls newer than the profile answering ENOSYS (the compiler adds that).
///
/// It is kept here as groups by purpose, each group a rule whose comment `seccomp check`
/// shows, and the denials spelt out with their reasons, although they only restate the
/// default. `netctl seccomp default` prints it in Docker's JSON, to start a profile of
/// one's own from.
extension SeccompProfile {
    public static let builtinDefault: SeccompProfile = {
        var rules = DefaultProfile.allowed.map { Rule(names: $0.names, action: "SCMP_ACT_ALLOW", comment: $0.purpose) }
        rules += DefaultProfile.argumentChecks
        rules += DefaultProfile.byArchitecture.map { group in
            Rule(names: group.names, action: "SCMP_ACT_ALLOW", comment: "only on \(group.arches.joined(separator: ", "))",
                 includes: Filter(arches: group.arches))
        }
        rules += DefaultProfile.byCapability.map { group in
            Rule(names: group.names, action: "SCMP_ACT_ALLOW", comment: "with \(group.capability)",
                 includes: Filter(caps: [group.capability]))
        }
        rules.append(Rule(names: ["ptrace", "process_vm_readv", "process_vm_writev"], action: "SCMP_ACT_ALLOW",
                          comment: "since Linux 4.8 ptrace cannot be used to get past seccomp",
                          includes: Filter(minKernel: "4.8")))
        rules += DefaultProfile.denied.map { denial in
            Rule(names: denial.names, action: "SCMP_ACT_ERRNO", comment: denial.reason,
                 excludes: denial.unless.isEmpty ? nil : Filter(caps: denial.unless))
        }
        return SeccompProfile(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, archMap: DefaultProfile.architectures, syscalls: rules)
    }()
}

private enum DefaultProfile {
    static let allowed: [(purpose: String, names: [String])] = [
        ("reading and writing files", [
            "open", "openat", "openat2", "creat", "close", "close_range", "read", "readv", "pread64", "preadv", "preadv2",
            "write", "writev", "pwrite64", "pwritev", "pwritev2", "lseek", "_llseek", "sendfile", "sendfile64",
            "copy_file_range", "splice", "tee", "vmsplice", "readahead", "fadvise64", "fadvise64_64", "fallocate",
            "ftruncate", "ftruncate64", "truncate", "truncate64", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
            "flock", "fcntl", "fcntl64", "dup", "dup2", "dup3", "ioctl", "cachestat",
        ]),
        ("paths, directories and file metadata", [
            "access", "faccessat", "faccessat2", "stat", "stat64", "lstat", "lstat64", "fstat", "fstat64", "fstatat64",
            "newfstatat", "statx", "statfs", "statfs64", "fstatfs", "fstatfs64", "chmod", "fchmod", "fchmodat", "fchmodat2",
            "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32", "umask", "link", "linkat", "symlink",
            "symlinkat", "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "mknod",
            "mknodat", "readlink", "readlinkat", "chdir", "fchdir", "getcwd", "getdents", "getdents64", "utime", "utimes",
            "utimensat", "utimensat_time64", "futimesat", "name_to_handle_at", "statmount", "listmount",
        ]),
        ("extended attributes", [
            "getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr", "setxattrat",
            "listxattr", "llistxattr", "flistxattr", "listxattrat", "removexattr", "lremovexattr", "fremovexattr",
            "removexattrat",
        ]),
        ("waiting on descriptors, pipes and event descriptors", [
            "select", "_newselect", "pselect6", "pselect6_time64", "poll", "ppoll", "ppoll_time64", "epoll_create",
            "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait", "epoll_wait_old", "epoll_pwait", "epoll_pwait2",
            "eventfd", "eventfd2", "signalfd", "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64",
            "timerfd_gettime", "timerfd_gettime64", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
            "fanotify_mark", "pipe", "pipe2",
        ]),
        ("asynchronous I/O (not io_uring)", [
            "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
        ]),
        ("memory", [
            "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock", "mlock2",
            "mlockall", "munlock", "munlockall", "remap_file_pages", "memfd_create", "memfd_secret", "membarrier",
            "pkey_alloc", "pkey_free", "pkey_mprotect", "map_shadow_stack", "mseal",
        ]),
        ("processes, threads and their limits", [
            "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4", "waitid", "waitpid", "getpid", "getppid",
            "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid", "set_tid_address", "get_robust_list",
            "set_robust_list", "futex", "futex_time64", "futex_wait", "futex_wake", "futex_waitv", "futex_requeue",
            "restart_syscall", "rseq", "prctl", "get_thread_area", "set_thread_area", "pidfd_open", "pidfd_send_signal",
            "process_mrelease", "capget", "capset", "getrlimit", "ugetrlimit", "setrlimit", "prlimit64", "getrusage", "times",
            "getpriority", "setpriority", "ioprio_get", "ioprio_set", "getcpu", "uretprobe",
        ]),
        ("scheduling", [
            "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr", "sched_setattr", "sched_getparam",
            "sched_setparam", "sched_getscheduler", "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
            "sched_rr_get_interval", "sched_rr_get_interval_time64",
        ]),
        ("signals", [
            "kill", "tkill", "tgkill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
            "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack",
            "sigprocmask", "sigreturn", "pause",
        ]),
        ("clocks and timers (setting the clock needs CAP_SYS_TIME in the kernel as well)", [
            "time", "gettimeofday", "clock_gettime", "clock_gettime64", "clock_getres", "clock_getres_time64",
            "clock_nanosleep", "clock_nanosleep_time64", "nanosleep", "clock_adjtime", "clock_adjtime64", "adjtimex",
            "alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_settime", "timer_settime64",
            "timer_gettime", "timer_gettime64", "timer_getoverrun",
        ]),
        ("user and group identity", [
            "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid", "getegid32", "getresuid",
            "getresuid32", "getresgid", "getresgid32", "getgroups", "getgroups32", "setuid", "setuid32", "setgid", "setgid32",
            "setreuid", "setreuid32", "setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
            "setgroups", "setgroups32", "setfsuid", "setfsuid32", "setfsgid", "setfsgid32",
        ]),
        ("System V and POSIX IPC (namespaced)", [
            "ipc", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semtimedop_time64", "semctl",
            "shmget", "shmat", "shmdt", "shmctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedsend_time64",
            "mq_timedreceive", "mq_timedreceive_time64", "mq_notify", "mq_getsetattr",
        ]),
        ("sockets (socket itself is checked by family)", [
            "socketcall", "socketpair", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername",
            "getsockopt", "setsockopt", "send", "sendto", "sendmsg", "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg",
            "recvmmsg_time64", "shutdown",
        ]),
        ("about the system", ["uname", "sysinfo", "getrandom", "riscv_hwprobe"]),
        ("confining oneself further", ["seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"]),
    ]

    /// AF_ALG (38) and AF_VSOCK (40) sockets are refused; the personalities a program may
    /// ask for are Linux's own, with UNAME26 and ADDR_NO_RANDOMIZE, and the query
    /// (0xffffffff); clone may not create namespaces (the flags in 0x7e020000) without
    /// CAP_SYS_ADMIN, with s390 taking the flags as its second argument.
    static let argumentChecks: [SeccompProfile.Rule] = {
        typealias Filter = SeccompProfile.Filter
        func allow(_ name: String, _ index: UInt32, _ op: String, _ value: UInt64, masked: Bool = false, comment: String,
                   includes: Filter? = nil, excludes: Filter? = nil) -> SeccompProfile.Rule {
            let argument = SeccompProfile.Argument(index: index, value: value, valueTwo: masked ? 0 : nil, op: op)
            return SeccompProfile.Rule(names: [name], action: "SCMP_ACT_ALLOW", args: [argument], comment: comment,
                                       includes: includes, excludes: excludes)
        }
        let namespaces: UInt64 = 0x7e02_0000  // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
        let s390 = ["s390", "s390x"]
        return [
            allow("socket", 0, "SCMP_CMP_LT", 38, comment: "address families before AF_ALG"),
            allow("socket", 0, "SCMP_CMP_EQ", 39, comment: "AF_NFC"),
            allow("socket", 0, "SCMP_CMP_GT", 40, comment: "address families after AF_VSOCK"),
        ] + [0, 0x8, 0x20000, 0x20008, 0xffff_ffff].map {
            allow("personality", 0, "SCMP_CMP_EQ", $0, comment: "a personality Linux programs use")
        } + [
            allow("clone", 0, "SCMP_CMP_MASKED_EQ", namespaces, masked: true, comment: "threads and processes, no new namespaces",
                  excludes: Filter(caps: ["CAP_SYS_ADMIN"], arches: s390)),
            allow("clone", 1, "SCMP_CMP_MASKED_EQ", namespaces, masked: true, comment: "threads and processes, no new namespaces (s390 order)",
                  includes: Filter(arches: s390), excludes: Filter(caps: ["CAP_SYS_ADMIN"])),
            SeccompProfile.Rule(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38,
                                comment: "its flags are out of seccomp's reach: ENOSYS makes libc use clone",
                                excludes: Filter(caps: ["CAP_SYS_ADMIN"])),
        ]
    }()

    static let byArchitecture: [(arches: [String], names: [String])] = [
        (["amd64", "x32"], ["arch_prctl"]),
        (["amd64", "x32", "x86"], ["modify_ldt"]),
        (["arm", "arm64"], ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"]),
        (["ppc64le"], ["sync_file_range2", "swapcontext"]),
        (["s390", "s390x"], ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"]),
        (["riscv64"], ["riscv_flush_icache"]),
    ]

    static let byCapability: [(capability: String, names: [String])] = [
        ("CAP_SYS_ADMIN", [
            "mount", "umount", "umount2", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
            "fspick", "unshare", "setns", "clone", "clone3", "sethostname", "setdomainname", "quotactl", "quotactl_fd",
            "bpf", "perf_event_open", "fanotify_init", "lookup_dcookie", "syslog", "lsm_get_self_attr", "lsm_set_self_attr",
            "lsm_list_modules",
        ]),
        ("CAP_SYS_PTRACE", ["ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp"]),
        ("CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]),
        ("CAP_SYS_BOOT", ["reboot"]),
        ("CAP_SYS_CHROOT", ["chroot"]),
        ("CAP_SYS_PACCT", ["acct"]),
        ("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
        ("CAP_SYS_TIME", ["settimeofday", "stime", "clock_settime", "clock_settime64"]),
        ("CAP_SYS_TTY_CONFIG", ["vhangup"]),
        ("CAP_SYS_NICE", ["mbind", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node"]),
        ("CAP_SYSLOG", ["syslog"]),
        ("CAP_BPF", ["bpf"]),
        ("CAP_PERFMON", ["perf_event_open"]),
        ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
    ]

    static let architectures: [SeccompProfile.ArchMap] = [
        .init(architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
        .init(architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"]),
        .init(architecture: "SCMP_ARCH_MIPS64", subArchitectures: ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]),
        .init(architecture: "SCMP_ARCH_MIPS64N32", subArchitectures: ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"]),
        .init(architecture: "SCMP_ARCH_MIPSEL64", subArchitectures: ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"]),
        .init(architecture: "SCMP_ARCH_MIPSEL64N32", subArchitectures: ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"]),
        .init(architecture: "SCMP_ARCH_S390X", subArchitectures: ["SCMP_ARCH_S390"]),
        .init(architecture: "SCMP_ARCH_RISCV64", subArchitectures: nil),
        .init(architecture: "SCMP_ARCH_LOONGARCH64", subArchitectures: nil),
    ]

    /// What the default denies, and why; `unless` names the capabilities that lift it.
    static let denied: [(names: [String], reason: String, unless: [String])] = [
        (["mount", "umount", "umount2", "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick"],
         "mounting needs CAP_SYS_ADMIN", ["CAP_SYS_ADMIN"]),
        (["unshare", "setns"], "new namespaces need CAP_SYS_ADMIN", ["CAP_SYS_ADMIN"]),
        (["sethostname", "setdomainname"], "the UTS names are set by the runtime (CAP_SYS_ADMIN)", ["CAP_SYS_ADMIN"]),
        (["quotactl", "quotactl_fd", "fanotify_init", "lookup_dcookie", "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules"],
         "host-wide state: needs CAP_SYS_ADMIN", ["CAP_SYS_ADMIN"]),
        (["bpf"], "eBPF reaches into the host kernel: needs CAP_SYS_ADMIN or CAP_BPF", ["CAP_SYS_ADMIN", "CAP_BPF"]),
        (["perf_event_open"], "performance counters leak host information: needs CAP_SYS_ADMIN or CAP_PERFMON", ["CAP_SYS_ADMIN", "CAP_PERFMON"]),
        (["syslog"], "the kernel log is the host's: needs CAP_SYS_ADMIN or CAP_SYSLOG", ["CAP_SYS_ADMIN", "CAP_SYSLOG"]),
        (["process_madvise", "pidfd_getfd", "kcmp"], "reaching into other processes needs CAP_SYS_PTRACE", ["CAP_SYS_PTRACE"]),
        (["init_module", "finit_module", "delete_module"], "kernel modules need CAP_SYS_MODULE", ["CAP_SYS_MODULE"]),
        (["reboot"], "rebooting needs CAP_SYS_BOOT", ["CAP_SYS_BOOT"]),
        (["chroot"], "needs CAP_SYS_CHROOT", ["CAP_SYS_CHROOT"]),
        (["acct"], "process accounting needs CAP_SYS_PACCT", ["CAP_SYS_PACCT"]),
        (["iopl", "ioperm"], "I/O ports need CAP_SYS_RAWIO", ["CAP_SYS_RAWIO"]),
        (["settimeofday", "stime", "clock_settime", "clock_settime64"], "the clock is the host's: needs CAP_SYS_TIME", ["CAP_SYS_TIME"]),
        (["vhangup"], "needs CAP_SYS_TTY_CONFIG", ["CAP_SYS_TTY_CONFIG"]),
        (["mbind", "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node"], "NUMA policy needs CAP_SYS_NICE", ["CAP_SYS_NICE"]),
        (["open_by_handle_at"], "file handles bypass the mount namespace: needs CAP_DAC_READ_SEARCH", ["CAP_DAC_READ_SEARCH"]),
        (["keyctl", "add_key", "request_key"], "the kernel keyrings are not namespaced", []),
        (["kexec_load", "kexec_file_load"], "loading another kernel", []),
        (["swapon", "swapoff"], "the host's swap", []),
        (["pivot_root"], "changing the root is the runtime's work", []),
        (["userfaultfd"], "lets a process stall the kernel mid-copy, a staple of exploits", []),
        (["io_uring_setup", "io_uring_enter", "io_uring_register"], "io_uring bypasses syscall filtering and has a long record of exploits", []),
        (["migrate_pages", "move_pages"], "moving other processes' memory between NUMA nodes", []),
        (["uselib", "create_module", "get_kernel_syms", "query_module", "_sysctl", "sysfs", "ustat", "nfsservctl"],
         "obsolete", []),
        (["getpmsg", "putpmsg", "afs_syscall", "tuxcall", "security", "vserver"], "never implemented in Linux", []),
    ]
}
