#!/usr/bin/env python3
"""Turn the transcription notes in data/raw/*.txt into data/declarations.csv.

Every row of data/raw/ was copied from a page or file that was read through the search
tool (stored copies of public web pages and public repositories); the `@` line above it
names that source. Nothing here is written from memory. See README.md for the method.

Raw formats:
  @ URL                                  starts a source (a page, or github:owner/repo/path)
  = host                                 the site a repository file belongs to (when the file
                                         names it), used as source_site for that source
  Label: name, name!ls, name!ss           the site's own category label, then the names it
                                          declares under that label (!ls localStorage key,
                                          !ss sessionStorage key, !domain=host the declared
                                          domain of the cookie)
  J site|name|domain|label|expiry|flags|value
                                          one CookieBlock crawl record (CMP declaration);
                                          label 0 necessary, 1 functional, 2 analytics,
                                          3 advertising; flags H http_only, S secure,
                                          O host_only, N session

Mapping of a site's own label to the four classes (first rule that matches, on the
lowercased label):
  functionally required                                      -> necessary
  advert | marketing | targeting | ads tech | conversion      -> marketing
  analytic | statist | performance | measur | audience       -> analytics
  functional | functionality | preference | convenience      -> functional
  necessary | essential | required | strictly | security |
  authentication | cookie message | functioning | cart       -> necessary
Labels that match none (for example "Non-essential" alone) are not used.
"""
import csv
import glob
import os
import re
import sys
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = [
    ("necessary", ["functionally required"]),
    ("marketing", ["advert", "marketing", "targeting", "ads tech", "conversion"]),
    ("analytics", ["analytic", "statist", "performance", "measur", "audience"]),
    ("functional", ["functional", "functionality", "preference", "convenience"]),
    ("necessary", ["necessary", "essential", "required", "strictly", "security",
                   "authentication", "cookie message", "functioning", "cart"]),
]
CB_LABELS = {"0": "necessary", "1": "functional", "2": "analytics", "3": "marketing"}
CB_NAMES = {"0": "Necessary (CMP)", "1": "Functionality (CMP)", "2": "Analytics (CMP)",
            "3": "Advertising (CMP)"}
COLUMNS = ["source_site", "source_url", "name", "domain", "storage", "declared_as",
           "category", "expiry_seconds", "http_only", "secure", "host_only", "value"]


def map_label(label):
    low = label.lower()
    for cat, words in RULES:
        if any(w in low for w in words):
            return cat
    return None


def site_of(url):
    if url.startswith("github:"):
        parts = url[len("github:"):].split("/")
        return "github.com/" + "/".join(parts[:2])
    host = urlparse(url).hostname or url
    return re.sub(r"^www\.", "", host.lower())


def source_url(url):
    if url.startswith("github:"):
        parts = url[len("github:"):].split("/")
        return "https://github.com/%s/%s/blob/HEAD/%s" % (parts[0], parts[1], "/".join(parts[2:]))
    return url


def rows():
    for path in sorted(glob.glob(os.path.join(HERE, "data", "raw", "*.txt"))):
        url = None
        for line in open(path, encoding="utf-8"):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("@ "):
                url = line[2:].strip()
                site = site_of(url)
                continue
            if line.startswith("= "):
                site = line[2:].strip()
                continue
            if url is None:
                sys.exit("%s: row before any @ source: %s" % (path, line))
            if line.startswith("J "):
                site, name, domain, label, expiry, flags, value = line[2:].split("|", 6)
                if label not in CB_LABELS:
                    continue
                yield {
                    "source_site": re.sub(r"^www\.", "", site), "source_url": source_url(url),
                    "name": name, "domain": domain, "storage": "cookie",
                    "declared_as": CB_NAMES[label], "category": CB_LABELS[label],
                    "expiry_seconds": "" if "N" in flags else expiry,
                    "http_only": int("H" in flags), "secure": int("S" in flags),
                    "host_only": int("O" in flags), "value": value,
                }
                continue
            label, _, names = line.partition(":")
            cat = map_label(label)
            if cat is None:
                continue
            for raw in [n.strip() for n in names.split(",")]:
                if not raw:
                    continue
                storage, domain = "cookie", ""
                raw, *marks = raw.split("!")
                for m in marks:
                    if m == "ls":
                        storage = "local"
                    elif m == "ss":
                        storage = "session"
                    elif m.startswith("domain="):
                        domain = m[len("domain="):].strip()
                    else:
                        sys.exit("%s: unknown mark !%s on %s" % (path, m, raw))
                yield {
                    "source_site": site, "source_url": source_url(url), "name": raw,
                    "domain": domain, "storage": storage, "declared_as": label.strip(),
                    "category": cat, "expiry_seconds": "", "http_only": "", "secure": "",
                    "host_only": "", "value": "",
                }


def main():
    out = os.path.join(HERE, "data", "declarations.csv")
    seen = set()
    kept = []
    for r in rows():
        key = (r["source_site"], r["name"], r["storage"])
        if key in seen:  # a site declaring the same name twice keeps its first label
            continue
        seen.add(key)
        kept.append(r)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(kept)
    sites = {r["source_site"] for r in kept}
    counts = {}
    for r in kept:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    print("%d declarations from %d sites: %s" % (len(kept), len(sites), counts))


if __name__ == "__main__":
    main()
