// The C side of the Netlink target: libmnl plus the kernel's rtnetlink headers, and the
// few helpers Swift cannot express because libmnl spells them as macros.
#pragma once
// glibc before the kernel's uapi headers, so that linux/libc-compat.h keeps one in6_addr.
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/neighbour.h>
#include <linux/veth.h>
#include <linux/if_ether.h>
#include <linux/magic.h>

// Fills tb[type] with the last attribute of each type up to max, starting `offset` bytes
// into the message payload (mnl_attr_for_each is a macro, so Swift cannot use it).
static inline void nc_attr_table(const struct nlmsghdr *nlh, unsigned int offset,
                                 const struct nlattr **tb, unsigned int max) {
    const struct nlattr *attr;
    memset(tb, 0, sizeof(*tb) * (max + 1));
    mnl_attr_for_each(attr, nlh, offset) {
        uint16_t type = mnl_attr_get_type(attr);
        if (type <= max) tb[type] = attr;
    }
}

static inline void nc_attr_table_nested(const struct nlattr *nest, const struct nlattr **tb,
                                        unsigned int max) {
    const struct nlattr *attr;
    memset(tb, 0, sizeof(*tb) * (max + 1));
    mnl_attr_for_each_nested(attr, nest) {
        uint16_t type = mnl_attr_get_type(attr);
        if (type <= max) tb[type] = attr;
    }
}

static inline int nc_errno(void) { return errno; }

// setns(2), unshare(2) and CLONE_NEWNET are behind _GNU_SOURCE, which must not be defined
// here: it would make glibc's structs differ from the ones Swift's Glibc module saw.
extern int setns(int fd, int nstype);
extern int unshare(int flags);
static const int NC_CLONE_NEWNET = 0x40000000;

// Attribute-table sizes, which the headers define as expressions Swift cannot import.
static const unsigned int NC_IFLA_MAX = IFLA_MAX;
static const unsigned int NC_IFLA_INFO_MAX = IFLA_INFO_MAX;
static const unsigned int NC_IFLA_MACVLAN_MAX = IFLA_MACVLAN_MAX;
static const unsigned int NC_IFLA_VXLAN_MAX = IFLA_VXLAN_MAX;
static const unsigned int NC_IFA_MAX = IFA_MAX;
static const unsigned int NC_RTA_MAX = RTA_MAX;
static const unsigned int NC_NDA_MAX = NDA_MAX;
static const unsigned int NC_NLMSGERR_ATTR_MAX = NLMSGERR_ATTR_MAX;
