// Linux calls Swift's Glibc module leaves out, for the resolver's event loop: epoll and
// signalfd (headers the module does not include) and setns (behind _GNU_SOURCE, which
// must not be defined here: the Glibc module was built without it).
#pragma once
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

extern int setns(int fd, int nstype);
static const int NC_DNS_CLONE_NEWNET = 0x40000000;
