/// Python's json module as the oracle for JSONTests: `generate` writes random documents,
/// `compare` says whether netctl's serialization of each is the same value.
enum OracleScripts {
    /// `generate SEED COUNT`: COUNT documents, one per line in hex (they hold newlines).
    /// Random nesting, keys in random order, every escape (surrogate pairs too, in either
    /// hex case), raw UTF-8, numbers of every shape (big integers, exponents, -0), and
    /// whitespace of all four kinds between tokens.
    static let generate = #"""
import json, random, sys

seed, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)

def space():
    return "".join(rng.choice(" \t\n\r") for _ in range(rng.choice([0, 0, 0, 1, 2])))

def escaped(code):
    return ("\\u%04X" if rng.random() < 0.3 else "\\u%04x") % code

def char():
    kind = rng.random()
    if kind < 0.45:
        c = chr(rng.randrange(0x20, 0x7f))
        return {'"': '\\"', '\\': '\\\\'}.get(c, c)
    if kind < 0.55:
        return rng.choice(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t'])
    if kind < 0.62:
        return escaped(rng.randrange(0, 0x20))
    if kind < 0.72:
        code = rng.choice([rng.randrange(0x80, 0xd800), rng.randrange(0xe000, 0x10000)])
        return escaped(code)
    if kind < 0.82:
        code = rng.randrange(0x10000, 0x110000) - 0x10000
        return escaped(0xd800 + (code >> 10)) + escaped(0xdc00 + (code & 0x3ff))
    # Raw UTF-8 of one, two, three and four bytes.
    return chr(rng.choice([rng.randrange(0x80, 0x800), rng.randrange(0x800, 0xd800),
                           rng.randrange(0xe000, 0x10000), rng.randrange(0x10000, 0x110000)]))

def string():
    return '"' + "".join(char() for _ in range(rng.choice([0, 1, 3, 8, 20]))) + '"'

def digits(n, lead=False):
    first = str(rng.randrange(1, 10)) if lead else str(rng.randrange(10))
    return first + "".join(str(rng.randrange(10)) for _ in range(n - 1))

def number():
    sign = rng.choice(["", "", "-"])
    whole = rng.choice(["0", digits(rng.randrange(1, 4), True), digits(rng.randrange(15, 40), True)])
    fraction = rng.choice(["", "", "." + digits(rng.randrange(1, 20))])
    exponent = rng.choice(["", "", rng.choice("eE") + rng.choice(["", "+", "-"]) + digits(rng.randrange(1, 4))])
    return sign + whole + fraction + exponent

def value(depth):
    kind = rng.random() if depth < 6 else rng.random() * 0.6
    if kind < 0.05: return "null"
    if kind < 0.1: return rng.choice(["true", "false"])
    if kind < 0.3: return number()
    if kind < 0.6: return string()
    if kind < 0.8:
        items = [space() + value(depth + 1) + space() for _ in range(rng.choice([0, 1, 2, 5]))]
        return "[" + (",".join(items) if items else space()) + "]"
    keys, members = set(), []
    for _ in range(rng.choice([0, 1, 3, 6])):
        key = string()
        if json.loads(key) in keys: continue
        keys.add(json.loads(key))
        members.append(space() + key + space() + ":" + space() + value(depth + 1) + space())
    return "{" + (",".join(members) if members else space()) + "}"

for _ in range(count):
    print((space() + value(0) + space()).encode("utf-8").hex())
"""#

    /// `compare DOCUMENTS OUTPUTS`: each output must be the same value as its document:
    /// same types (an integer stays one, 1.0 stays a float), same strings, same key order.
    static let compare = #"""
import json, sys

def load(text):
    return json.loads(text, object_pairs_hook=lambda pairs: ("object", pairs))

def same(a, b):
    if type(a) is not type(b): return False
    if isinstance(a, tuple):
        return len(a[1]) == len(b[1]) and all(ka == kb and same(va, vb) for (ka, va), (kb, vb) in zip(a[1], b[1]))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a: return b != b
    return a == b

documents = [bytes.fromhex(line).decode("utf-8") for line in open(sys.argv[1]).read().split()]
outputs = [bytes.fromhex(line).decode("utf-8") for line in open(sys.argv[2]).read().split()]
assert len(documents) == len(outputs), (len(documents), len(outputs))
bad = 0
for document, output in zip(documents, outputs):
    if not same(load(document), load(output)):
        bad += 1
        if bad <= 5: print("differs:", repr(document)[:300], "->", repr(output)[:300])
print("compared", len(documents), "bad", bad)
sys.exit(1 if bad else 0)
"""#

    /// `refuses`: reads documents (hex lines after an "x") and prints, for each, "refused" or "accepted"
    /// by json.loads with NaN and Infinity refused too (Python allows them by default).
    static let refuses = #"""
import json, sys

def no_constant(name):
    raise ValueError(name)

for line in sys.stdin.read().split():
    try:
        json.loads(bytes.fromhex(line[1:]).decode("utf-8"), parse_constant=no_constant)
        print("accepted")
    except (ValueError, UnicodeDecodeError, RecursionError):
        print("refused")
"""#
}
