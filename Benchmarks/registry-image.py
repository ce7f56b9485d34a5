#!/usr/bin/env python3
"""The registry benchmark's image: 8 gzip-compressed layers, ~200 MB uncompressed, as an OCI
layout tagged "1". It looks like a real image to a registry client: uneven layers (one of
80 MB, the others 8-30 MB), made of this host's own files (shared libraries, Python
sources and bytecode, message catalogs, Perl, man pages that are already gzip'ed), which
compress as real layers do, and a busybox with /bin/sh so the pulled image runs.

Deterministic for the same host files: entries in sorted order, owner 0:0, one mtime,
`gzip -n`. Idempotent; a lock keeps parallel callers from building twice.
    Benchmarks/registry-image.py DIR  ->  DIR/layout (an OCI layout, tag "1")
"""
import fcntl, hashlib, io, json, os, shutil, stat, subprocess, sys, tarfile

MiB = 1 << 20
MTIME = 1700000000
# (what the layer stands for, the host tree it copies, how much of it in bytes)
LAYERS = [
    ("base: busybox and shared libraries", "/usr/lib/x86_64-linux-gnu", 80 * MiB),
    ("runtime: python", "/usr/lib/python3.11", 30 * MiB),
    ("locales", "/usr/share/locale", 25 * MiB),
    ("perl modules", "/usr/share/perl", 20 * MiB),
    ("compiler support", "/usr/lib/gcc", 15 * MiB),
    ("documentation", "/usr/share/doc", 12 * MiB),
    ("manual pages", "/usr/share/man", 10 * MiB),
    ("application", "/usr/lib/git-core", 8 * MiB),
]
BIGGEST_FILE = 8 * MiB   # larger files are left out, so that every layer has many entries


def normalized(info):
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = MTIME
    return info


def entries(tree, budget):
    """Directories, regular files and symlinks of `tree` in sorted order, until the regular
    files add up to `budget` bytes."""
    taken = 0
    for top, dirs, files in os.walk(tree):
        dirs.sort()
        yield top
        for name in sorted(files):
            path = os.path.join(top, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                yield path
            elif stat.S_ISREG(st.st_mode) and st.st_size <= BIGGEST_FILE and os.access(path, os.R_OK):
                yield path
                taken += st.st_size
                if taken >= budget:
                    return


def add_busybox(tar):
    def directory(name, mode=0o755):
        info = normalized(tarfile.TarInfo(name))
        info.type, info.mode = tarfile.DIRTYPE, mode
        tar.addfile(info)

    def text(name, content):
        data = content.encode()
        info = normalized(tarfile.TarInfo(name))
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))

    for name in ("bin", "etc", "tmp", "root"):
        directory(name, 0o1777 if name == "tmp" else 0o755)
    tar.add("/bin/busybox", "bin/busybox", filter=normalized)
    for applet in ("sh", "ls", "cat", "echo", "true", "sleep", "du", "find", "wc"):
        info = normalized(tarfile.TarInfo("bin/" + applet))
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, "busybox", 0o777
        tar.addfile(info)
    text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    text("etc/group", "root:x:0:\n")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def blob(layout, path_or_bytes):
    """Moves a file (or writes bytes) into the layout's blobs: (digest, size)."""
    if isinstance(path_or_bytes, bytes):
        hexdigest = hashlib.sha256(path_or_bytes).hexdigest()
        with open(f"{layout}/blobs/sha256/{hexdigest}", "wb") as f:
            f.write(path_or_bytes)
    else:
        hexdigest = sha256(path_or_bytes)
        os.rename(path_or_bytes, f"{layout}/blobs/sha256/{hexdigest}")
    return f"sha256:{hexdigest}", os.path.getsize(f"{layout}/blobs/sha256/{hexdigest}")


def build(work):
    layout = f"{work}/layout"
    os.makedirs(f"{layout}/blobs/sha256")
    layers, diff_ids, history = [], [], []
    for number, (comment, tree, budget) in enumerate(LAYERS):
        tar_path = f"{work}/layer{number}.tar"
        with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
            if number == 0:
                add_busybox(tar)
            for path in entries(tree, budget):
                tar.add(path, path.lstrip("/"), recursive=False, filter=normalized)
        diff_ids.append("sha256:" + sha256(tar_path))
        size = os.path.getsize(tar_path)
        subprocess.run(["gzip", "-n", "-6", tar_path], check=True)
        digest, compressed = blob(layout, tar_path + ".gz")
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": compressed})
        history.append({"created": "2023-11-14T22:13:20Z", "created_by": f"COPY {tree} # {comment}"})
        print(f"layer {number}: {size / MiB:5.1f} MiB, {compressed / MiB:5.1f} MiB gzip'ed  {comment}", file=sys.stderr)
    config = {
        "created": "2023-11-14T22:13:20Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_digest, config_size = blob(layout, json.dumps(config, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    }
    manifest_digest, manifest_size = blob(layout, json.dumps(manifest, separators=(",", ":")).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "1"},
        }],
    }
    with open(f"{layout}/index.json", "w") as f:
        json.dump(index, f, separators=(",", ":"))
    with open(f"{layout}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return manifest_digest


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    with open(f"{out}/lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(f"{out}/ready"):
            return
        work = f"{out}/work"
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        digest = build(work)
        shutil.rmtree(f"{out}/layout", ignore_errors=True)
        os.rename(f"{work}/layout", f"{out}/layout")
        shutil.rmtree(work)
        with open(f"{out}/ready", "w") as f:
            f.write(digest + "\n")


main()
