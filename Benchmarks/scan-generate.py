#!/usr/bin/env python3
"""A seeded, synthetic OSV advisory set for Benchmarks/scan.sh, and the package pools the
benchmark image (Benchmarks/scan-image.py) is drawn from.

    scan-generate.py OUT [--count 200000] [--seed 16] [--directories]

writes OUT/zip/<ecosystem>/all.zip (one file <ID>.json per advisory, flat, deflated: the
form OSV publishes per ecosystem), with --directories the same files in
OUT/osv/<ecosystem>/, and OUT/expected.json (what the image holds and which of its
packages each advisory affects, known by construction, so the benchmark can check that
the scan it times found what it should).

The mix is OSV's own, roughly: Debian (Debian:12 and release-less Debian) 35%, PyPI 20%,
npm 20%, Alpine:v3.19 10%, Go 10%, Red Hat 5%. Each advisory has an id of its database's
form, aliases (CVE, GHSA), a summary, details of a few hundred bytes, published/modified,
1–3 affected entries (each for another package of the same ecosystem) with an ECOSYSTEM
range (SEMVER for npm and Go) of introduced/fixed or introduced/last_affected events, a
versions[] list on PyPI/npm entries, a CVSS_V3 vector on ~85% (else a database_specific
severity), database_specific/ecosystem_specific fields and references.

Packages are drawn from per-ecosystem pools (a few real names at the top, then made-up
ones), by a Zipf-like weight: a few packages have hundreds of advisories, most have a
handful, like the real databases. Every pool package has a current version (the one the
image installs); an affected entry is, by construction, against that version: fixed below
it (97.5%: the usual case, an old advisory long fixed), fixed above it (0.4%), no fix at
all (0.4%), last_affected at it (0.2%) or below it (1.5%): the image's ~600 names (its
sources, for Debian) are named by some 24,000 affected entries of 200,000 advisories and
about 240 of those affect it. Advisories affecting a
package the image holds are never CRITICAL, so `run --scan-policy CRITICAL` passes on the
image (the benchmark times that check, not a refusal).
"""
import argparse, json, os, random, re, sys, zipfile

# Vectors with their CVSS v3.x base scores (NVD's calculator; the database engineer's
# CVSS tests check the formula), rated per the specification's bands.
VECTORS = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CRITICAL"),   # 9.8
    ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", "CRITICAL"),   # 9.9
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "HIGH"),       # 7.5
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", "HIGH"),       # 8.8
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", "HIGH"),       # 7.8
    ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "HIGH"),       # 7.5
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "MEDIUM"),     # 6.1
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H", "MEDIUM"),     # 5.9
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H", "MEDIUM"),     # 5.5
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N", "MEDIUM"),     # 5.3
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:L/A:N", "LOW"),        # 3.1
    ("CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N", "LOW"),        # 2.5
]
RATINGS = ["LOW", "MODERATE", "HIGH", "CRITICAL"]

# name, share, directory (OSV's bucket names), the ecosystems written into records
ECOSYSTEMS = [
    ("Debian", 0.35), ("PyPI", 0.20), ("npm", 0.20), ("Alpine", 0.10), ("Go", 0.10), ("Red Hat", 0.05),
]
POOL_SIZES = {"Debian": 4000, "PyPI": 6000, "npm": 8000, "Alpine": 1500, "Go": 2000, "Red Hat": 1500}

REAL = {
    "Debian": ["glibc", "openssl", "systemd", "curl", "zlib", "xz-utils", "perl", "python3.11", "sqlite3", "libxml2",
               "tar", "gnutls28", "krb5", "expat", "ncurses", "bash", "coreutils", "util-linux", "shadow", "pam",
               "libgcrypt20", "gnupg2", "openldap", "cyrus-sasl2", "libtasn1-6", "nghttp2", "libssh2", "e2fsprogs",
               "apt", "dpkg", "gcc-12", "libzstd", "lz4", "bzip2", "pcre2", "libidn2", "libpsl", "libunistring",
               "libxslt", "libpng1.6", "tiff", "libjpeg-turbo", "freetype", "fontconfig", "git", "openssh", "sudo",
               "procps", "gzip", "libcap2", "libseccomp", "libselinux", "audit", "nettle", "gmp", "p11-kit",
               "ca-certificates", "libffi", "readline", "db5.3", "icu", "libtirpc", "keyutils", "acl", "attr"],
    "PyPI": ["requests", "urllib3", "certifi", "idna", "setuptools", "pip", "cryptography", "jinja2", "pyyaml",
             "django", "flask", "werkzeug", "pillow", "numpy", "aiohttp", "sqlalchemy", "paramiko", "lxml", "twisted",
             "tornado", "pydantic", "protobuf", "grpcio", "gunicorn", "celery", "redis", "boto3", "botocore"],
    "npm": ["lodash", "minimist", "express", "axios", "semver", "tar", "ws", "qs", "moment", "node-fetch",
            "jsonwebtoken", "follow-redirects", "glob-parent", "ansi-regex", "json5", "word-wrap", "tough-cookie",
            "@babel/traverse", "@babel/core", "debug", "ms", "body-parser", "path-to-regexp", "cookie", "send"],
    "Alpine": ["musl", "busybox", "openssl", "apk-tools", "zlib", "curl", "libcrypto3", "expat", "xz", "sqlite"],
    "Go": ["stdlib", "golang.org/x/net", "golang.org/x/crypto", "golang.org/x/text", "google.golang.org/grpc",
           "github.com/docker/docker", "github.com/opencontainers/runc", "k8s.io/kubernetes", "github.com/gin-gonic/gin"],
    "Red Hat": ["glibc", "openssl", "kernel", "systemd", "curl", "python3", "httpd", "nginx", "bind", "sudo"],
}
SYLLABLES = ["ac", "al", "an", "ar", "ba", "be", "bi", "bo", "ca", "ce", "co", "da", "de", "di", "do", "el", "em",
             "en", "er", "fa", "fi", "fo", "ga", "ge", "go", "ha", "he", "in", "io", "ka", "ke", "ko", "la", "le",
             "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "ni", "no", "or", "pa", "pe", "pi", "po", "ra", "re",
             "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "ur", "va", "ve", "vi", "xa", "ze", "zo"]
WORDS = ["buffer", "overflow", "heap", "stack", "integer", "out-of-bounds", "read", "write", "use-after-free",
         "null", "pointer", "dereference", "denial", "of", "service", "crafted", "input", "remote", "attacker",
         "allows", "via", "parser", "request", "header", "certificate", "validation", "path", "traversal",
         "regular", "expression", "injection", "memory", "leak", "race", "condition", "privilege", "escalation"]


def made_up(rng, ecosystem, i):
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
    if ecosystem == "Debian":
        return rng.choice(["lib", "", "", "python-", "node-", "golang-"]) + word + rng.choice(["", "", "", "2", "-utils", "-tools"]) + f"{i}" * (i % 7 == 0)
    if ecosystem == "PyPI":
        return word + rng.choice(["", "", "-client", "_utils", ".core", "-py"]) + f"{i}" * (i % 5 == 0)
    if ecosystem == "npm":
        return (f"@{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)}/" if i % 6 == 0 else "") + word + rng.choice(["", "", "-js", "-loader", "-plugin"])
    if ecosystem == "Go":
        return f"github.com/{word}/{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)}" + rng.choice(["", "", "/v2"])
    return word + rng.choice(["", "-libs", "-devel", "-common"])


class Pool:
    """One ecosystem's packages, each with the current version the image would install."""

    def __init__(self, rng, ecosystem):
        self.ecosystem = ecosystem
        # PyPI names are one package whatever their case and separators (PEP 503).
        key = (lambda n: re.sub(r"[-_.]+", "-", n).lower()) if ecosystem == "PyPI" else (lambda n: n)
        names, seen = [], set()
        for name in REAL[ecosystem]:
            names.append(name); seen.add(key(name))
        i = 0
        while len(names) < POOL_SIZES[ecosystem]:
            name = made_up(rng, ecosystem, i); i += 1
            if key(name) not in seen:
                names.append(name); seen.add(key(name))
        self.names = names
        self.current = {name: self.version(rng) for name in names}
        # Zipf-like weights over the pool's order (real names first: the popular ones).
        self.weights = [1.0 / (rank + 20) ** 0.8 for rank in range(len(names))]
        total = 0.0
        self.cumulative = []
        for w in self.weights:
            total += w
            self.cumulative.append(total)

    def version(self, rng):
        """A version tuple: (epoch, [numbers], revision, update) — each scheme formats it."""
        numbers = [rng.randint(0, 9) if i else rng.randint(0, 4) for i in range(rng.choice([2, 3, 3, 3]))]
        return (1 if rng.random() < 0.06 else 0, numbers, rng.randint(1, 9), rng.choice([0, 0, 0, 1, 2, 3, 5]))

    def pick(self, rng, avoid=()):
        while True:
            name = rng.choices(self.names, cum_weights=self.cumulative)[0]
            if name not in avoid:
                return name


def fmt(ecosystem, v, tilde=None):
    """Formats version tuple v in the ecosystem's syntax; `tilde` makes a pre-release of it."""
    epoch, numbers, revision, update = v
    upstream = ".".join(map(str, numbers))
    if ecosystem == "Debian":
        text = upstream + (f"~rc{tilde}" if tilde else "") + f"-{revision}" + (f"+deb12u{update}" if update else "")
        return f"{epoch}:{text}" if epoch else text
    if ecosystem == "Alpine":
        return upstream + (f"_rc{tilde}" if tilde else "") + f"-r{revision + update}"
    if ecosystem == "Red Hat":
        return f"{epoch}:{upstream}" + (f"~rc{tilde}" if tilde else "") + f"-{revision}.el9" + (f"_{update}" if update else "")
    if ecosystem == "PyPI":
        return upstream + (f"rc{tilde}" if tilde else "")
    # npm, Go: semver (OSV's Go ranges carry no leading v)
    numbers = (numbers + [0, 0])[:3]
    return ".".join(map(str, numbers)) + (f"-rc.{tilde}" if tilde else "")


def below(rng, ecosystem, v):
    """A version tuple lower than v, or (v, tilde) for a pre-release of v itself."""
    epoch, numbers, revision, update = v
    if update and ecosystem in ("Debian", "Alpine", "Red Hat") and rng.random() < 0.4:
        return (epoch, list(numbers), revision, update - 1), None
    for i in reversed(range(len(numbers))):
        if numbers[i] > 0:
            lower = list(numbers); lower[i] -= 1
            return (epoch, lower, rng.randint(1, 9), rng.choice([0, 0, 1, 2])), None
    return v, rng.randint(1, 3)     # 0.0.0: its own release candidate is below it


def above(rng, ecosystem, v):
    epoch, numbers, revision, update = v
    if ecosystem in ("Debian", "Red Hat", "Alpine") and rng.random() < 0.6:
        return (epoch, list(numbers), revision, update + 1)
    higher = list(numbers); higher[-1] += rng.randint(1, 3)
    return (epoch, higher, 1, 0)


def history(rng, ecosystem, v, count):
    """Versions of the package up to and including v (for versions[] lists)."""
    epoch, numbers, _, _ = v
    out = [v]
    n = list(numbers)
    for _ in range(count):
        for i in reversed(range(len(n))):
            if n[i] > 0:
                n[i] -= 1
                break
        else:
            break
        out.append((epoch, list(n), 1, 0))
    return out


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def advisory_id(ecosystem, index, cve):
    if ecosystem == "Debian":
        return f"DEBIAN-{cve}" if index % 5 else f"DSA-{5000 + index // 5}-1"
    if ecosystem == "Alpine":
        return f"ALPINE-{cve}"
    if ecosystem == "Red Hat":
        return f"RHSA-2024:{index:05d}"
    if ecosystem == "Go":
        return f"GO-2024-{index:05d}"
    if ecosystem == "PyPI":
        return f"PYSEC-2024-{index:05d}" if index % 3 else f"GHSA-{ghsa(index)}"
    return f"GHSA-{ghsa(index)}"


def ghsa(index):
    alphabet = "23456789cfghjmpqrvwx"
    digits = []
    n = index * 7919 + 104729
    for _ in range(12):
        digits.append(alphabet[n % 20]); n //= 20
    s = "".join(digits)
    return f"{s[0:4]}-{s[4:8]}-{s[8:12]}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--directories", action="store_true", help="also the files, one per advisory, in OUT/osv")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    pools = {name: Pool(rng, name) for name, _ in ECOSYSTEMS}
    from_image = image_packages(pools, random.Random(args.seed + 1))
    in_image = {(e, n) for e, pkgs in from_image.items() for n in pkgs}

    os.makedirs(args.out, exist_ok=True)
    zips, expected = {}, []
    candidates = 0
    for ecosystem, _ in ECOSYSTEMS:
        if args.directories:
            os.makedirs(os.path.join(args.out, "osv", ecosystem), exist_ok=True)
        os.makedirs(os.path.join(args.out, "zip", ecosystem), exist_ok=True)
        zips[ecosystem] = zipfile.ZipFile(os.path.join(args.out, "zip", ecosystem, "all.zip"), "w", zipfile.ZIP_DEFLATED)
    counts = [int(args.count * share) for _, share in ECOSYSTEMS]
    counts[0] += args.count - sum(counts)
    index = 0
    for (ecosystem, _), count in zip(ECOSYSTEMS, counts):
        pool = pools[ecosystem]
        for _ in range(count):
            index += 1
            record, hits, touched = advisory(rng, ecosystem, pool, index, in_image)
            candidates += touched
            expected.extend([record["id"], e, n] for e, n in hits)
            data = json.dumps(record, indent=2).encode()
            name = record["id"] + ".json"
            if args.directories:
                with open(os.path.join(args.out, "osv", ecosystem, name), "wb") as f:
                    f.write(data)
            zips[ecosystem].writestr(name, data)
    for z in zips.values():
        z.close()
    json.dump({"count": args.count, "seed": args.seed, "candidates": candidates, "findings": expected,
               "packages": {e: {n: fmt(e, pools[e].current[n]) for n in names} for e, names in from_image.items()}},
              open(os.path.join(args.out, "expected.json"), "w"), indent=1)
    print(f"{args.count} advisories; the image's packages are named by {candidates} affected entries, "
          f"{len(expected)} of which affect the installed version", file=sys.stderr)


def image_packages(pools, rng):
    """Which pool packages the benchmark image holds: Debian sources (its ~700 binary
    packages come from ~300 of them), 200 PyPI and 100 npm packages; the most advised-on
    packages (the real names) and a spread of the rest, as a real image would."""
    def choose(pool, top, total):
        names = pool.names[:top]
        rest = pool.names[top:]
        names += rng.sample(rest, total - top)
        return names
    return {"Debian": choose(pools["Debian"], 20, 300), "PyPI": choose(pools["PyPI"], 8, 200),
            "npm": choose(pools["npm"], 6, 100)}


def advisory(rng, ecosystem, pool, index, in_image):
    cve = f"CVE-{2014 + index % 12}-{10000 + index}"   # one per advisory: ids stay unique
    ident = advisory_id(ecosystem, index, cve)
    aliases = [cve] if not ident.endswith(cve) else []
    if ecosystem in ("PyPI", "npm", "Go") and rng.random() < 0.5:
        aliases.append(f"GHSA-{ghsa(index + 1_000_003)}")
    affected, hits, names, touched = [], [], set(), 0
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        name = pool.pick(rng, names)
        names.add(name)
        current = pool.current[name]
        osv_ecosystem = {"Debian": rng.choice(["Debian:12", "Debian:12", "Debian"]), "Alpine": "Alpine:v3.19",
                         "Red Hat": "Red Hat:enterprise_linux:9::appstream"}.get(ecosystem, ecosystem)
        roll = rng.random()
        introduced = "0"
        if rng.random() < 0.3:
            low, tilde = below(rng, ecosystem, below(rng, ecosystem, current)[0])
            introduced = fmt(ecosystem, low, tilde)
        if roll < 0.975:
            low, tilde = below(rng, ecosystem, current)
            events, hit = [{"introduced": introduced}, {"fixed": fmt(ecosystem, low, tilde)}], False
            if introduced != "0":     # the fix must come after what it was introduced in
                events[0] = {"introduced": "0"}
        elif roll < 0.979:
            events, hit = [{"introduced": introduced}, {"fixed": fmt(ecosystem, above(rng, ecosystem, current))}], True
        elif roll < 0.983:
            events, hit = [{"introduced": introduced}], True
        elif roll < 0.985:
            events, hit = [{"introduced": introduced}, {"last_affected": fmt(ecosystem, current)}], True
        else:
            low, tilde = below(rng, ecosystem, current)
            events, hit = [{"introduced": "0"}, {"last_affected": fmt(ecosystem, low, tilde)}], False
        range_type = "SEMVER" if ecosystem in ("npm", "Go") else "ECOSYSTEM"
        entry = {"package": {"ecosystem": osv_ecosystem, "name": name}, "ranges": [{"type": range_type, "events": events}]}
        if ecosystem in ("PyPI", "npm") and rng.random() < 0.6:
            # versions[]: those the range covers, out of the package's history (OSV lists them so)
            past = history(rng, ecosystem, current, rng.randint(1, 6))
            entry["versions"] = [fmt(ecosystem, v) for v in (past if hit else past[1:])]
        if ecosystem == "Debian":
            entry["ecosystem_specific"] = {"urgency": rng.choice(["not yet assigned", "low", "medium", "high", "unimportant"])}
            entry["database_specific"] = {"source": f"https://storage.googleapis.com/debian-osv/{ident}.json"}
        elif ecosystem in ("PyPI", "npm", "Go"):
            entry["database_specific"] = {"source": f"https://github.com/github/advisory-database/blob/main/advisories/{ident}.json"}
        affected.append(entry)
        if (ecosystem, name) in in_image:
            touched += 1
            if hit:
                hits.append((ecosystem, name))
    record = {
        "schema_version": "1.6.0",
        "id": ident,
        "modified": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
        "published": f"{cve[4:8]}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00Z",
        "aliases": aliases,
        "summary": sentence(rng, rng.randint(5, 10)),
        "details": ". ".join(sentence(rng, rng.randint(8, 16)) for _ in range(rng.randint(3, 6))) + ".",
        "affected": affected,
        "references": [{"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/{cve}"},
                       {"type": "WEB", "url": f"https://security-tracker.debian.org/tracker/{cve}"}][:rng.randint(1, 2)],
    }
    # Affecting the image: never CRITICAL, so that the run --scan-policy CRITICAL check passes.
    vectors = VECTORS[2:] if hits else VECTORS
    if rng.random() < 0.85:
        record["severity"] = [{"type": "CVSS_V3", "score": rng.choice(vectors)[0]}]
    else:
        record["database_specific"] = {"severity": rng.choice(RATINGS[:3] if hits else RATINGS)}
    if rng.random() < 0.02 and not hits:
        record["withdrawn"] = record["modified"]
    return record, hits, touched


if __name__ == "__main__":
    main()
