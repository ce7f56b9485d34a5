#!/usr/bin/env python3
"""Puts a Docker-format seccomp profile into a runtime-spec config.json as linux.seccomp,
resolved for `runc spec`'s three capabilities on x86_64 (the OCI form has no
includes/excludes), and sets the process's arguments.

usage: oci-seccomp.py CONFIG PROFILE|- ARG...   (- leaves the config without a profile)
"""
import json
import sys

path, profile_path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
config = json.load(open(path))
config["process"]["terminal"] = False
config["process"]["args"] = args
if profile_path != "-":
    profile = json.load(open(profile_path))
    caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
    rules = []
    for rule in profile["syscalls"]:
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if exc.get("arches") and "amd64" in exc["arches"]:
            continue
        rules.append({k: v for k, v in rule.items() if k in ("names", "action", "errnoRet", "args")})
    config["linux"]["seccomp"] = {
        "defaultAction": profile["defaultAction"], "defaultErrnoRet": profile.get("defaultErrnoRet", 1),
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules,
    }
json.dump(config, open(path, "w"))
