#!/usr/bin/env python3
"""Captures real rtnetlink and nf_tables dump answers as fuzz seeds.

Run as root: `python3 Fuzz/capture-seeds.py` from the repository. It makes a network
namespace of its own (bridge, veth pair, addresses from 198.18.0.0/15 and 2001:db8::/32,
a route, a neighbour, an nft table in netctl's shape), reads each dump the way netctl's
readers ask for it, writes the first datagram of each answer to Fuzz/Corpus/FuzzNetlink/
and Fuzz/Corpus/FuzzNFTables/, and removes the namespace whatever happens.
"""
import os, socket, struct, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
NS = f"nc-fuzzcap-{os.getpid()}"
NETLINK_NETFILTER = 12

NFT_RULESET = """
table inet netctl-fuzz {
    set networks4 {
        type ipv4_addr
        flags interval
        elements = { 198.18.0.0/24, 198.18.1.0/24 }
    }
    map ports4_any {
        type inet_proto . inet_service : ipv4_addr . inet_service
        elements = { tcp . 8080 : 198.18.0.2 . 80, udp . 53 : 198.18.0.3 . 53 }
    }
    map isolation {
        type ifname : verdict
        elements = { "nc-br-a" : jump from_a, "nc-br-b" : drop }
    }
    chain from_a {
        ip daddr @networks4 accept
        counter drop
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        fib daddr type local dnat ip to meta l4proto . th dport map @ports4_any
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        iifname vmap @isolation
        ct state established,related accept
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr 198.18.0.0/24 oifname != "nc-br-a" masquerade
    }
}
"""

def sh(*args, **kw):
    subprocess.run(args, check=True, **kw)

def request(family, msgtype, flags, payload, seq=1):
    return struct.pack("=IHHII", 16 + len(payload), msgtype, flags, seq, 0) + payload

def attr(kind, data):
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * ((4 - length % 4) % 4)

def first_datagram(proto, message):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    s.bind((0, 0))
    s.send(message)
    data = s.recv(1 << 16)
    s.close()
    return data

def write(target, name, data):
    directory = os.path.join(HERE, "Corpus", target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
    print(f"{target}/{name}: {len(data)} bytes")

def capture():
    NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
    dump = NLM_F_REQUEST | NLM_F_DUMP
    # rtnetlink: RTM_GETLINK 18, RTM_GETADDR 22, RTM_GETROUTE 26, RTM_GETNEIGH 30.
    ifinfo = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
    write("FuzzNetlink", "links", first_datagram(socket.NETLINK_ROUTE, request(0, 18, dump, ifinfo)))
    ifaddr = struct.pack("=BBBBI", 0, 0, 0, 0, 0)
    write("FuzzNetlink", "addresses", first_datagram(socket.NETLINK_ROUTE, request(0, 22, dump, ifaddr)))
    for family, name in ((socket.AF_INET, "routes4"), (socket.AF_INET6, "routes6")):
        rt = struct.pack("=BBBBBBBBI", family, 0, 0, 0, 0, 0, 0, 0, 0)
        write("FuzzNetlink", name, first_datagram(socket.NETLINK_ROUTE, request(0, 26, dump, rt)))
    for family, name in ((0, "neighbours"), (socket.AF_BRIDGE, "fdb")):
        nd = struct.pack("=BxxxiHBB", family, 0, 0, 0, 0)
        write("FuzzNetlink", name, first_datagram(socket.NETLINK_ROUTE, request(0, 30, dump, nd)))

    # nf_tables: (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GET*; nfgenmsg {family, version, res_id}.
    inet = 1
    def nft(msg, family, attrs=b""):
        return request(0, (10 << 8) | msg, dump, struct.pack("=BBH", family, 0, 0) + attrs)
    table = attr(1, b"netctl-fuzz\0")
    write("FuzzNFTables", "tables", first_datagram(NETLINK_NETFILTER, nft(1, 0)))
    write("FuzzNFTables", "chains", first_datagram(NETLINK_NETFILTER, nft(4, inet)))
    write("FuzzNFTables", "rules", first_datagram(NETLINK_NETFILTER, nft(7, inet, table)))
    write("FuzzNFTables", "sets", first_datagram(NETLINK_NETFILTER, nft(10, inet, table)))
    for name in ("networks4", "ports4_any", "isolation"):
        elements = table + attr(2, name.encode() + b"\0")
        write("FuzzNFTables", f"elements-{name}", first_datagram(NETLINK_NETFILTER, nft(13, inet, elements)))

def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        capture()
        return
    sh("ip", "netns", "add", NS)
    try:
        run = ("ip", "netns", "exec", NS)
        sh(*run, "ip", "link", "set", "lo", "up")
        sh(*run, "ip", "link", "add", "nc-br-a", "type", "bridge")
        sh(*run, "ip", "link", "add", "nc-veth-a", "mtu", "1400", "type", "veth", "peer", "name", "nc-veth-b")
        sh(*run, "ip", "link", "set", "nc-veth-a", "master", "nc-br-a")
        sh(*run, "ip", "link", "set", "nc-br-a", "alias", "fuzz seed bridge")
        for link in ("nc-br-a", "nc-veth-a", "nc-veth-b"):
            sh(*run, "ip", "link", "set", link, "up")
        sh(*run, "ip", "address", "add", "198.18.0.1/24", "dev", "nc-br-a")
        sh(*run, "ip", "address", "add", "2001:db8::1/64", "dev", "nc-br-a", "nodad")
        sh(*run, "ip", "route", "add", "198.18.8.0/24", "via", "198.18.0.2")
        sh(*run, "ip", "neighbour", "add", "198.18.0.9", "lladdr", "02:42:c6:12:00:09", "dev", "nc-br-a", "nud", "permanent")
        sh(*run, "bridge", "fdb", "add", "02:42:c6:12:00:0a", "dev", "nc-veth-a", "master", "static")
        sh(*run, "nft", "-f", "-", input=NFT_RULESET.encode())
        sh(*run, sys.executable, os.path.abspath(__file__), "--inside")
    finally:
        subprocess.run(("ip", "netns", "delete", NS))

if __name__ == "__main__":
    main()
