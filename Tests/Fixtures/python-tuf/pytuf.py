#!/usr/bin/env python3
"""python-tuf (PyPI `tuf`, 7.x) as netctl's tests and benchmarks drive it: the other side
of every content-trust interop check on static TUF repositories.

  pytuf.py build  --repo DIR --keys DIR --tag T --length N --sha256 HEX
      A new repository with python-tuf's Metadata API: root v1 (root key ed25519),
      targets (ecdsa) delegating every path to `releases` (ed25519) whose one target is
      T, snapshot (ed25519), timestamp (ecdsa), consistent snapshots. Files as a static
      repository serves them (1.root.json, root.json, 1.targets.json, 1.releases.json,
      1.snapshot.json, timestamp.json); private keys as PEM in the keys directory.
  pytuf.py rotate --repo DIR --keys DIR
      Root v2: the root key replaced by a new ecdsa key (signed by the old and the new),
      and the timestamp key by a new ed25519 key, so a client must follow the root chain
      to accept timestamp v2, which the new key signs.
  pytuf.py sign   --repo DIR --keys DIR --tag T --length N --sha256 HEX
      T added to (or changed in) `releases`; releases, snapshot and timestamp re-signed
      with versions bumped.
  pytuf.py get    --url URL --root FILE --tag T [--metadata DIR]
      ngclient.Updater from the trusted root FILE against URL (http(s)://, or file:///DIR/
      read from disk): refresh, then the target
      info of T, printed as one JSON line {"path", "length", "sha256"}, or {"error": "…"}
      (exit status 1) when the updater refuses anything, or {"error": null} (exit 2)
      when T is not a target.
  pytuf.py bench  --url URL --root FILE --tag T --runs N
      The same, N times, each from an empty metadata directory (the whole chain fetched
      and verified): one line per run, milliseconds.
"""
import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time

from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

SPEC_DAYS = {"root": 3650, "targets": 1095, "releases": 1095, "snapshot": 1095, "timestamp": 14}


def expiry(role):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return now + datetime.timedelta(days=SPEC_DAYS[role])


# Keys: KEYS/<name>.pem (PKCS#8, unencrypted: a test fixture's keys).

def new_key(keys, name, kind):
    signer = CryptoSigner.generate_ed25519() if kind == "ed25519" else CryptoSigner.generate_ecdsa()
    pem = signer._private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with open(os.path.join(keys, name + ".pem"), "wb") as f:
        f.write(pem)
    with open(os.path.join(keys, name + ".scheme"), "w") as f:
        f.write(signer.public_key.scheme)
    return signer


def load_key(keys, name):
    with open(os.path.join(keys, name + ".pem"), "rb") as f:
        private = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(keys, name + ".scheme")) as f:
        scheme = f.read().strip()
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key(), None, scheme))


# The repository directory: versioned files, the newest of each role found by listing.

def newest(repo, role):
    versions = [int(n.split(".")[0]) for n in os.listdir(repo)
                if n.endswith("." + role + ".json") and n.split(".")[0].isdigit()]
    return max(versions)


def load(repo, role):
    if role == "timestamp":
        return Metadata.from_file(os.path.join(repo, "timestamp.json"))
    return Metadata.from_file(os.path.join(repo, "%d.%s.json" % (newest(repo, role), role)))


def write(repo, md, role):
    serializer = JSONSerializer(compact=False)
    if role == "timestamp":
        md.to_file(os.path.join(repo, "timestamp.json"), serializer)
        return
    md.to_file(os.path.join(repo, "%d.%s.json" % (md.signed.version, role)), serializer)
    if role == "root":
        # An unversioned copy of the newest root, for clients that trust on first use.
        md.to_file(os.path.join(repo, "root.json"), serializer)


def resign_snapshot_timestamp(repo, keys, changed):
    """Snapshot lists `changed` roles at their new versions; timestamp then lists snapshot."""
    snapshot = load(repo, "snapshot")
    for role, version in changed.items():
        snapshot.signed.meta[role + ".json"] = MetaFile(version=version)
    snapshot.signed.version += 1
    snapshot.signed.expires = expiry("snapshot")
    snapshot.sign(load_key(keys, "snapshot"))
    write(repo, snapshot, "snapshot")
    timestamp = load(repo, "timestamp")
    timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
    timestamp.signed.version += 1
    timestamp.signed.expires = expiry("timestamp")
    timestamp.sign(load_key(keys, "timestamp"))
    write(repo, timestamp, "timestamp")


def target(args):
    return TargetFile(length=args.length, hashes={"sha256": args.sha256}, path=args.tag)


def build(args):
    os.makedirs(args.repo, exist_ok=True)
    os.makedirs(args.keys, exist_ok=True)
    signers = {"root": new_key(args.keys, "root", "ed25519"),
               "targets": new_key(args.keys, "targets", "ecdsa"),
               "snapshot": new_key(args.keys, "snapshot", "ed25519"),
               "timestamp": new_key(args.keys, "timestamp", "ecdsa"),
               "releases": new_key(args.keys, "releases", "ed25519")}

    root = Metadata(Root(expires=expiry("root"), consistent_snapshot=True))
    for role in ["root", "targets", "snapshot", "timestamp"]:
        root.signed.add_key(signers[role].public_key, role)
    root.sign(signers["root"])

    releases = Metadata(Targets(expires=expiry("releases")))
    releases.signed.targets[args.tag] = target(args)
    releases.sign(signers["releases"])

    key = signers["releases"].public_key
    role = DelegatedRole(name="releases", keyids=[key.keyid], threshold=1, terminating=False, paths=["*"])
    targets = Metadata(Targets(expires=expiry("targets"),
                               delegations=Delegations(keys={key.keyid: key}, roles={"releases": role})))
    targets.sign(signers["targets"])

    snapshot = Metadata(Snapshot(expires=expiry("snapshot")))
    snapshot.signed.meta["releases.json"] = MetaFile(version=1)
    snapshot.sign(signers["snapshot"])
    timestamp = Metadata(Timestamp(expires=expiry("timestamp")))
    timestamp.sign(signers["timestamp"])

    for name, md in [("root", root), ("targets", targets), ("releases", releases),
                     ("snapshot", snapshot), ("timestamp", timestamp)]:
        write(args.repo, md, name)


def rotate(args):
    root = load(args.repo, "root")
    old_root = load_key(args.keys, "root")
    old_timestamp = load_key(args.keys, "timestamp")
    new_root = new_key(args.keys, "root", "ecdsa")
    new_timestamp = new_key(args.keys, "timestamp", "ed25519")
    root.signed.revoke_key(old_root.public_key.keyid, "root")
    root.signed.add_key(new_root.public_key, "root")
    root.signed.revoke_key(old_timestamp.public_key.keyid, "timestamp")
    root.signed.add_key(new_timestamp.public_key, "timestamp")
    root.signed.version += 1
    root.signatures.clear()
    # Signed by the old root keys (the client's trusted root says so) and the new ones
    # (the new root says so of itself).
    root.sign(old_root, append=True)
    root.sign(new_root, append=True)
    write(args.repo, root, "root")

    timestamp = load(args.repo, "timestamp")
    timestamp.signed.version += 1
    timestamp.signed.expires = expiry("timestamp")
    timestamp.sign(new_timestamp)
    write(args.repo, timestamp, "timestamp")


def sign(args):
    releases = load(args.repo, "releases")
    releases.signed.targets[args.tag] = target(args)
    releases.signed.version += 1
    releases.signed.expires = expiry("releases")
    releases.sign(load_key(args.keys, "releases"))
    write(args.repo, releases, "releases")
    resign_snapshot_timestamp(args.repo, args.keys, {"releases": releases.signed.version})


def updater(url, root, metadata):
    from tuf.ngclient import Updater
    with open(root, "rb") as f:
        trusted = f.read()
    fetcher = FileFetcher() if url.startswith("file://") else None
    return Updater(metadata_dir=metadata, metadata_base_url=url, bootstrap=trusted, fetcher=fetcher)


def FileFetcher():
    """A file:// URL read from disk (a missing file is a 404, as a web server says), so that
    the Updater can be timed on a directory as netctl's client is."""
    from tuf.api.exceptions import DownloadHTTPError
    from tuf.ngclient.fetcher import FetcherInterface

    class Fetcher(FetcherInterface):
        def _fetch(self, url):
            try:
                with open(url[len("file://"):], "rb") as f:
                    return iter([f.read()])
            except FileNotFoundError:
                raise DownloadHTTPError("not found: " + url, 404)

    return Fetcher()


def lookup(url, root, metadata, tag):
    client = updater(url, root, metadata)
    client.refresh()
    return client.get_targetinfo(tag)


def get(args):
    metadata = args.metadata or tempfile.mkdtemp(prefix="netctl-pytuf-")
    try:
        info = lookup(args.url, args.root, metadata, args.tag)
    except Exception as error:  # every refusal, as one line
        print(json.dumps({"error": "%s: %s" % (type(error).__name__, error)}))
        return 1
    finally:
        if args.metadata is None:
            shutil.rmtree(metadata, ignore_errors=True)
    if info is None:
        print(json.dumps({"error": None}))
        return 2
    print(json.dumps({"path": info.path, "length": info.length, "sha256": info.hashes.get("sha256")}))
    return 0


def bench(args):
    for _ in range(args.runs):
        metadata = tempfile.mkdtemp(prefix="netctl-pytuf-")
        try:
            start = time.perf_counter()
            info = lookup(args.url, args.root, metadata, args.tag)
            elapsed = time.perf_counter() - start
        finally:
            shutil.rmtree(metadata, ignore_errors=True)
        if info is None:
            print("no target %s" % args.tag, file=sys.stderr)
            return 1
        print("%.3f" % (elapsed * 1000))
    return 0


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ["build", "rotate", "sign"]:
        command = commands.add_parser(name)
        command.add_argument("--repo", required=True)
        command.add_argument("--keys", required=True)
        if name != "rotate":
            command.add_argument("--tag", required=True)
            command.add_argument("--length", type=int, required=True)
            command.add_argument("--sha256", required=True)
    for name in ["get", "bench"]:
        command = commands.add_parser(name)
        command.add_argument("--url", required=True)
        command.add_argument("--root", required=True)
        command.add_argument("--tag", required=True)
        if name == "get":
            command.add_argument("--metadata")
        else:
            command.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    return {"build": build, "rotate": rotate, "sign": sign, "get": get, "bench": bench}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
