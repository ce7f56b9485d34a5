// Invokes a CNI plugin as a container runtime does, for hyperfine -N (no shell between):
// in network namespace HOSTNS (/run/netns/HOSTNS, the plugin's "host"), with the CNI_*
// variables set and the network configuration FILE on its stdin.
//   cni-invoke HOSTNS FILE COMMAND CONTAINERID NETNS-PATH IFNAME PLUGIN
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: cni-invoke HOSTNS FILE COMMAND CONTAINERID NETNS-PATH IFNAME PLUGIN\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "/run/netns/%s", argv[1]);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) { perror(path); return 2; }
    int config = open(argv[2], O_RDONLY);
    if (config < 0 || dup2(config, 0) != 0) { perror(argv[2]); return 2; }
    setenv("CNI_COMMAND", argv[3], 1);
    setenv("CNI_CONTAINERID", argv[4], 1);
    setenv("CNI_NETNS", argv[5], 1);
    setenv("CNI_IFNAME", argv[6], 1);
    setenv("CNI_PATH", "/usr/lib/cni", 1);
    execv(argv[7], argv + 7);
    perror(argv[7]);
    return 2;
}
