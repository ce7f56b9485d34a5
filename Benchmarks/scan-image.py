#!/usr/bin/env python3
"""The image Benchmarks/scan.sh scans: an OCI layout of ~1,000 packages over busybox's
layer, its packages those Benchmarks/scan-generate.py drew for it (OUT/expected.json).

    scan-image.py LAYOUT EXPECTED_JSON BUSYBOX_LAYER_BLOB [--seed 16]

Layers, lowest first (all gzip, tag `latest`):
  1. busybox's own layer (tools/busybox-image.sh), as it is;
  2. Debian 12: etc/os-release (+ usr/lib/os-release), var/lib/dpkg/status with ~700 binary
     packages of the ~300 source packages drawn (1–4 binaries each, named as Debian names
     them: lib*N, *-dev, *-bin, *-common…; some binNMUs, `Source: name (version)` where the
     binary's name or version differs, as dpkg writes it) and a few entries removed but
     not purged (`deinstall ok config-files`: not installed, not reported);
  3. Python: 200 *.dist-info/METADATA, half in /usr/lib/python3/dist-packages, half in
     /usr/local/lib/python3.11/site-packages (with RECORD, INSTALLER, WHEEL beside);
  4. npm: 100 packages under /srv/app/node_modules (scoped ones under @scope/).
Prints what it wrote and how many findings the scan should report: an advisory affecting a
Debian source counts once for each of its binaries in the image.
"""
import argparse, gzip, hashlib, io, json, os, random, re, sys, tarfile

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
# A few real source → binaries splits; made-up sources get made-up splits.
BINARIES = {
    "glibc": ["libc6", "libc-bin", "libc-l10n", "locales"], "openssl": ["libssl3", "openssl"],
    "systemd": ["libsystemd0", "libudev1", "systemd", "systemd-sysv"], "curl": ["curl", "libcurl4"],
    "zlib": ["zlib1g"], "xz-utils": ["liblzma5", "xz-utils"], "perl": ["perl-base", "perl", "perl-modules-5.36", "libperl5.36"],
    "python3.11": ["python3.11", "python3.11-minimal", "libpython3.11-stdlib", "libpython3.11-minimal"],
    "sqlite3": ["libsqlite3-0"], "libxml2": ["libxml2"], "tar": ["tar"], "gnutls28": ["libgnutls30"],
    "krb5": ["libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0"], "expat": ["libexpat1"],
    "ncurses": ["libncursesw6", "libtinfo6", "ncurses-base", "ncurses-bin"], "bash": ["bash"],
    "coreutils": ["coreutils"], "util-linux": ["util-linux", "libblkid1", "libmount1", "libuuid1"],
    "shadow": ["login", "passwd"], "pam": ["libpam0g", "libpam-modules", "libpam-modules-bin", "libpam-runtime"],
}
ARCHES = ["amd64", "amd64", "amd64", "all"]
SECTIONS = ["libs", "utils", "admin", "net", "devel", "python", "perl", "interpreters", "misc"]


def binaries_of(rng, source, taken):
    if source in BINARIES:
        names = BINARIES[source]
    else:
        base = re.sub(r"^lib", "", source)
        choices = [f"lib{base}{rng.randint(0, 6)}", f"lib{base}-dev", f"{base}-bin", f"{base}-common", f"{base}-data", source]
        names = [source] if rng.random() < 0.35 else []
        count = rng.choice([1, 2, 2, 2, 3, 4])
        while len(names) < count:
            name = rng.choice(choices)
            if name not in names:
                names.append(name)
    return [n for n in names if n not in taken]


def dpkg_status(rng, packages):
    entries, per_source = [], {}
    taken = set()
    for source, version in packages.items():
        names = binaries_of(rng, source, taken)
        taken.update(names)
        per_source[source] = len(names)
        for name in names:
            binnmu = rng.random() < 0.08
            own = version + ("+b1" if binnmu else "")
            lines = [f"Package: {name}", "Status: install ok installed", f"Priority: {rng.choice(['required', 'important', 'optional'])}",
                     f"Section: {rng.choice(SECTIONS)}", f"Installed-Size: {rng.randint(20, 40000)}",
                     "Maintainer: Debian Bench Maintainers <bench@lists.debian.org>", f"Architecture: {rng.choice(ARCHES)}"]
            if rng.random() < 0.3:
                lines.append("Multi-Arch: same")
            if name != source or binnmu:
                lines.append(f"Source: {source}" + (f" ({version})" if binnmu else ""))
            lines.append(f"Version: {own}")
            if rng.random() < 0.7:
                lines.append("Depends: libc6 (>= 2.34), " + ", ".join(rng.sample(sorted(taken), min(2, len(taken)))))
            lines.append(f"Description: {name} of the scan benchmark image")
            lines.append(" A package drawn for Benchmarks/scan.sh; its advisories are in the")
            lines.append(" generated OSV set, its version is the one they are written against.")
            if rng.random() < 0.4:
                lines.append(f"Homepage: https://example.org/{source}")
            entries.append("\n".join(lines))
    for i in range(6):   # removed, configuration left: dpkg keeps the entry, nothing is installed
        entries.append(f"Package: oldpkg{i}\nStatus: deinstall ok config-files\nPriority: optional\nSection: misc\n"
                       f"Installed-Size: 10\nMaintainer: Bench <bench@example.org>\nArchitecture: amd64\nVersion: 1.0-{i}\n"
                       "Description: a package removed but not purged")
    rng.shuffle(entries)
    return "\n\n".join(entries) + "\n", per_source


def python_files(rng, packages):
    files = []
    for i, (name, version) in enumerate(packages.items()):
        site = "usr/lib/python3/dist-packages" if i % 2 else "usr/local/lib/python3.11/site-packages"
        dist = f"{site}/{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info"
        metadata = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name} for the scan benchmark\n"
                    f"Home-page: https://example.org/{name}\nAuthor: Bench\nLicense: MIT\nRequires-Python: >=3.8\n"
                    "Classifier: Programming Language :: Python :: 3\n\nA package drawn for Benchmarks/scan.sh.\n")
        files.append((f"{dist}/METADATA", metadata))
        files.append((f"{dist}/INSTALLER", "pip\n"))
        files.append((f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.41.2)\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
        module = re.sub(r"[-.]+", "_", name).lower()
        files.append((f"{dist}/RECORD", f"{module}/__init__.py,sha256=,0\n{dist.rsplit('/', 1)[1]}/METADATA,,\n"))
        files.append((f"{site}/{module}/__init__.py", f'__version__ = "{version}"\n'))
    return files


def npm_files(packages):
    files = []
    for name, version in packages.items():
        manifest = {"name": name, "version": version, "description": f"{name} for the scan benchmark",
                    "main": "index.js", "license": "MIT", "repository": {"type": "git", "url": f"https://example.org/{name}.git"}}
        files.append((f"srv/app/node_modules/{name}/package.json", json.dumps(manifest, indent=2) + "\n"))
        files.append((f"srv/app/node_modules/{name}/index.js", "module.exports = {};\n"))
    files.append(("srv/app/package.json", json.dumps({"name": "bench-app", "private": True,
                                                      "dependencies": {n: v for n, v in packages.items()}}, indent=2) + "\n"))
    return files


def layer_tar(files):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = set()
        for path, _ in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                directories.add("/".join(parts[:i]))
        for directory in sorted(directories):
            info = tarfile.TarInfo(directory); info.type = tarfile.DIRTYPE; info.mode = 0o755; info.mtime = 1700000000
            tar.addfile(info)
        for path, text in files:
            data = text.encode()
            info = tarfile.TarInfo(path); info.size = len(data); info.mode = 0o644; info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("layout"); parser.add_argument("expected"); parser.add_argument("busybox_layer")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed + 2)
    expected = json.load(open(args.expected))
    packages = expected["packages"]
    status, per_source = dpkg_status(rng, packages["Debian"])
    dpkg = [("etc/os-release", OS_RELEASE), ("usr/lib/os-release", OS_RELEASE), ("var/lib/dpkg/status", status)]
    layers_files = [dpkg, python_files(rng, packages["PyPI"]), npm_files(packages["npm"])]

    out = args.layout
    os.makedirs(out + "/blobs/sha256", exist_ok=True)
    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(f"{out}/blobs/sha256/{digest}", "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + digest, "size": len(data)}
    base = open(args.busybox_layer, "rb").read()
    layers = [dict(blob(base), mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]
    diff_ids = ["sha256:" + hashlib.sha256(gzip.decompress(base)).hexdigest()]
    for files in layers_files:
        tar = layer_tar(files)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        layers.append(dict(blob(gzip.compress(tar, mtime=0)), mediaType="application/vnd.oci.image.layer.v1.tar+gzip"))
    config = blob(json.dumps({"architecture": "amd64", "os": "linux",
                              "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
                              "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
    config["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "config": config, "layers": layers}).encode())
    manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    manifest["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(out + "/index.json", "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(out + "/oci-layout", "w"))

    binaries = sum(per_source.values())
    counts = {"Debian": 0, "PyPI": 0, "npm": 0}
    for _, ecosystem, name in expected["findings"]:
        counts[ecosystem] += per_source.get(name, 0) if ecosystem == "Debian" else 1
    summary = {"packages": {"dpkg": binaries, "python": len(packages["PyPI"]), "npm": len(packages["npm"])},
               "expectedFindings": sum(counts.values()), "expectedByEcosystem": counts}
    json.dump(summary, open(out + ".expected.json", "w"))
    print(f"{binaries} dpkg packages (of {len(per_source)} sources), {len(packages['PyPI'])} Python, "
          f"{len(packages['npm'])} npm; {sum(counts.values())} findings expected {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
