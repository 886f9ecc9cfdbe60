"""Features of a cookie or storage observation, exactly as crumb-core computes them
(crates/crumb-core/src/classify/features.rs). Change both together: the parity test
(crates/crumb-core/tests/classify_parity.rs) compares them on bench/classify/data/parity.json.
"""
import math
import re

BUCKETS = 1 << 14
CLASSES = ["necessary", "functional", "analytics", "marketing"]


def fnv1a(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def tokens(name):
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    out = []
    for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()):
        if not t:
            continue
        if t.isdigit():
            t = "<num>"
        elif len(t) >= 12 and sum(c.isdigit() for c in t) >= 3:
            t = "<id>"
        if len(t) >= 2:
            out.append(t)
    return out


def norm(name):
    return re.sub(r"[0-9]", "0", name.lower())


def duration_bucket(seconds):
    if seconds is None:
        return "unknown"
    if seconds <= 0:
        return "session"
    for limit, label in ((3600, "hour"), (86400, "day"), (31 * 86400, "month"), (366 * 86400, "year")):
        if seconds <= limit:
            return label
    return "years"


def value_shape(v):
    if v is None:
        return None
    if v == "":
        return "empty"
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", v):
        return "timestamp" if re.fullmatch(r"1[0-9]{9}([0-9]{3})?", v) else "number"
    if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", v):
        return "uuid"
    if re.fullmatch(r"GA[0-9]\.[0-9]\..*", v) or re.fullmatch(r"fb\.[0-9]\..*", v):
        return "vendor_id"
    if v[:1] in "{[" or v.startswith("%7B") or v.startswith("%5B"):
        return "json"
    if re.fullmatch(r"[0-9a-fA-F]{16,}", v):
        return "hex"
    if re.search(r"%[0-9A-Fa-f]{2}", v) or ("=" in v and "&" in v):
        return "urlencoded"
    if re.fullmatch(r"[A-Za-z0-9+/_-]{16,}={0,2}", v):
        return "base64"
    if re.fullmatch(r"[a-z]{2}([-_][A-Za-z]{2})?", v):
        return "locale"
    if v.lower() in ("true", "false", "yes", "no"):
        return "bool"
    return "text"


def entropy_bucket(v):
    if not v:
        return "0"
    counts = {}
    for c in v:
        counts[c] = counts.get(c, 0) + 1
    n = len(v)
    e = -sum(k / n * math.log2(k / n) for k in counts.values())
    return "low" if e < 2.5 else ("mid" if e < 4.0 else "high")


def len_bucket(n):
    for limit in (0, 4, 16, 32, 64, 128):
        if n <= limit:
            return str(limit)
    return "long"


def registrable(domain):
    parts = [p for p in domain.lower().lstrip(".").split(".") if p]
    if len(parts) >= 3 and len(parts[-1]) == 2 and parts[-2] in ("co", "com", "org", "net", "ac", "gov"):
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


def features(name, domain=None, storage="cookie", party=None, seconds=None, value=None,
             http_only=None, secure=None, setter=None):
    """party: "first", "third" or None (unknown). seconds: None unknown, 0 session."""
    f = ["b"]
    for t in tokens(name):
        f.append("t:" + t)
    n = "^" + norm(name) + "$"
    for i in range(len(n) - 2):
        f.append("g:" + n[i:i + 3])
    low = name.lower()
    f.append("p:" + low[:4])
    f.append("p2:" + low[:2])
    f.append("party:" + (party or "unknown"))
    if party == "third" and domain:
        f.append("d:" + registrable(domain))
    if setter:
        f.append("set:" + registrable(setter))
    f.append("s:" + storage)
    f.append("dur:" + duration_bucket(seconds))
    shape = value_shape(value)
    if shape is not None:
        f.append("v:" + shape)
        f.append("vl:" + len_bucket(len(value)))
        f.append("ve:" + entropy_bucket(value))
    if http_only is not None:
        f.append("a:h%d" % int(bool(http_only)))
    if secure is not None:
        f.append("a:s%d" % int(bool(secure)))
    return f


def hashed(feats):
    out = {}
    for x in feats:
        k = fnv1a(x) % BUCKETS
        out[k] = out.get(k, 0.0) + 1.0
    return out
