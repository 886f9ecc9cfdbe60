#!/usr/bin/env python3
"""Train Crumb's cookie classifier and measure it.

  python3 bench/classify/train.py            # CV report + write the embedded model
  python3 bench/classify/train.py --check    # fail if the committed model would change (CI;
                                             # trains the embedded model only, ~15 s)

Training data: the Open Cookie Database (Apache-2.0, crates/crumb-core/data) and
bench/classify/data/declarations.csv (real sites' own declarations, see README.md).
Model: multinomial logistic regression (scikit-learn) over hashed features
(features.py, mirrored in crates/crumb-core/src/classify/features.rs), exported as int8
weights in crates/crumb-core/data/classifier.json and evaluated in pure Rust.

Evaluation: 5-fold cross-validation grouped by site (GroupKFold: no site in both train and
test); the Open Cookie Database is always in training. Writes bench/classify/results.json
(read by the Rust pipeline bench) and fold models for it under bench/classify/folds/ (not
committed).
"""
import base64
import csv
import json
import os
import re
import sys

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

import features as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OCD = os.path.join(ROOT, "crates", "crumb-core", "data", "open-cookie-database.csv")
DECL = os.path.join(HERE, "data", "declarations.csv")
MODEL = os.path.join(ROOT, "crates", "crumb-core", "data", "classifier.json")
C = 0.5
DECL_WEIGHT = 3.0
SEED = 0

NECESSARY_WORDS = ["session", "authenticat", "log in", "login", "logged", "sign in", "signed in",
                   "security", "csrf", "xsrf", "fraud", "load balanc", "load-balanc", "consent",
                   "cookie preferences", "shopping cart", "cart", "basket", "checkout", "bot",
                   "captcha"]


def ocd_purpose(cat, desc):
    if cat in ("Necessary", "Security"):
        return "necessary"
    if cat == "Analytics":
        return "analytics"
    if cat == "Marketing":
        return "marketing"
    if cat == "Personalization":
        return "functional"
    if cat == "Functional":
        d = desc.lower()
        return "necessary" if any(w in d for w in NECESSARY_WORDS) else "functional"
    return None


UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
         "month": 30 * 86400, "year": 365 * 86400}


def retention_seconds(text):
    t = text.lower()
    if "session" in t:
        return 0
    m = re.search(r"(\d+)\s*(second|minute|hour|day|week|month|year)", t)
    return int(m.group(1)) * UNITS[m.group(2)] if m else None


def clean_domain(d):
    d = d.replace("(3rd party)", "")
    parts = [p for p in re.split(r"[ ,/]", d) if p]
    return parts[0].lstrip("*.").lstrip(".").lower() if parts else ""


def load_ocd():
    rows = []
    with open(OCD, newline="", encoding="utf-8") as f:
        for r in csv.reader(f):
            if len(r) < 10 or r[0] == "ID" or not r[3].strip():
                continue
            p = ocd_purpose(r[2].strip(), r[5])
            if p is None:
                continue
            dom = clean_domain(r[4])
            name = r[3].strip()
            rows.append({
                "name": name, "domain": dom, "party": "third" if dom else None,
                "seconds": retention_seconds(r[6]), "label": p, "wildcard": r[9].strip() == "1",
                "storage": "cookie",
            })
    return rows


def host_matches(a, b):
    a, b = a.lstrip(".").lower(), b.lstrip(".").lower()
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def load_decl():
    rows = []
    with open(DECL, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            dom = r["domain"]
            site = r["source_site"]
            party = None
            if dom and not site.startswith("github.com/"):
                party = "first" if host_matches(dom, site) else "third"
            exp = r["expiry_seconds"]
            rows.append({
                "name": r["name"], "domain": dom, "party": party, "site": site,
                "seconds": int(exp) if exp else (0 if r["value"] and not exp else None),
                "value": r["value"] if r["value"] or r["http_only"] != "" else None,
                "http_only": None if r["http_only"] == "" else r["http_only"] == "1",
                "secure": None if r["secure"] == "" else r["secure"] == "1",
                "storage": r["storage"], "label": r["category"],
            })
    return rows


def feats(r):
    return F.features(r["name"], r.get("domain") or None, r.get("storage", "cookie"), r.get("party"),
                      r.get("seconds"), r.get("value"), r.get("http_only"), r.get("secure"))


def matrix(rows):
    data, ind, ptr = [], [], [0]
    for r in rows:
        h = F.hashed(feats(r))
        for k in sorted(h):
            ind.append(k)
            data.append(h[k])
        ptr.append(len(ind))
    return csr_matrix((data, ind, ptr), shape=(len(rows), F.BUCKETS))


def fit(rows, weights):
    y = np.array([F.CLASSES.index(r["label"]) for r in rows])
    counts = np.bincount(y, minlength=4).astype(float)
    cw = counts.sum() / (4 * np.maximum(counts, 1))
    sw = np.array(weights) * cw[y]
    m = LogisticRegression(C=C, max_iter=3000, random_state=SEED)
    m.fit(matrix(rows), y, sample_weight=sw)
    return m


def export(m):
    w = m.coef_  # (4, BUCKETS)
    scale = float(np.abs(w).max()) / 127.0
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return {
        "format": "crumb-classifier-1",
        "classes": F.CLASSES,
        "buckets": F.BUCKETS,
        "hash": "fnv1a32",
        "scale": scale,
        "intercept": [float(x) for x in m.intercept_],
        "weights_i8_base64": base64.b64encode(q.tobytes()).decode(),
        "trained_on": "Open Cookie Database + bench/classify/data/declarations.csv",
        "c": C, "declaration_weight": DECL_WEIGHT,
    }


def predict_export(model, rows):
    q = np.frombuffer(base64.b64decode(model["weights_i8_base64"]), dtype=np.int8)
    q = q.reshape(4, model["buckets"]).astype(float) * model["scale"]
    X = matrix(rows)
    z = X @ q.T + np.array(model["intercept"])
    return z.argmax(axis=1)


def ocd_lookup_purpose(ocd, r):
    """The database alone, domain-blind like a plain lookup; unknown means necessary."""
    name = r["name"]
    exact = [o for o in ocd if not o["wildcard"] and o["name"] == name]
    if exact:
        return exact[0]["label"]
    pre = [o for o in ocd if o["wildcard"] and name.startswith(o["name"]) and len(o["name"]) >= 4]
    if pre:
        return max(pre, key=lambda o: len(o["name"]))["label"]
    return "necessary"


def name_oracle(decl):
    """Label noise: each row's name gets the label most other sites declare for that name
    (ties: the first seen). Rows whose name no other site declares are left out. An upper
    bound for anything that reads the name alone: it knows every other site's answer."""
    by = {}
    for r in decl:
        by.setdefault(r["name"], []).append((r["site"], r["label"]))
    out = []
    for r in decl:
        counts = {}
        for s, lab in by[r["name"]]:
            if s != r["site"]:
                counts[lab] = counts.get(lab, 0) + 1
        out.append(max(counts, key=lambda k: (counts[k], -list(counts).index(k))) if counts else None)
    return out


def metrics(y, p):
    y, p = np.asarray(y), np.asarray(p)
    cm = np.zeros((4, 4), dtype=int)
    for a, b in zip(y, p):
        cm[a, b] += 1
    rec = [cm[i, i] / cm[i].sum() if cm[i].sum() else float("nan") for i in range(4)]
    return {
        "n": int(len(y)), "accuracy": float((y == p).mean()),
        "balanced_accuracy": float(np.nanmean(rec)),
        "recall": dict(zip(F.CLASSES, [float(x) for x in rec])),
        "confusion": cm.tolist(),
        "necessary_as_marketing": int(cm[0, 3]),
    }


def same_model(a, b):
    """Equal up to the last bits of floating point, which differ between BLAS builds and
    library versions: every field equal, floats within 1e-6, int8 weights within one step
    on at most 0.1% of them. Any change of data, features or settings moves far more."""
    if set(a) != set(b):
        return False
    for k in a:
        if k == "weights_i8_base64":
            qa = np.frombuffer(base64.b64decode(a[k]), dtype=np.int8).astype(int)
            qb = np.frombuffer(base64.b64decode(b[k]), dtype=np.int8).astype(int)
            if qa.shape != qb.shape or np.abs(qa - qb).max(initial=0) > 1 or (qa != qb).mean() > 0.001:
                return False
        elif k in ("scale", "intercept"):
            if not np.allclose(np.atleast_1d(a[k]), np.atleast_1d(b[k]), rtol=1e-6, atol=1e-6):
                return False
        elif a[k] != b[k]:
            return False
    return True


def main():
    check = "--check" in sys.argv
    ocd = load_ocd()
    decl = load_decl()
    if check:
        # Only the embedded model: what CI checks, without the cross-validation.
        full = export(fit(ocd + decl, [1.0] * len(ocd) + [DECL_WEIGHT] * len(decl)))
        old = json.load(open(MODEL)) if os.path.exists(MODEL) else {}
        if not same_model(full, old):
            sys.exit("classifier.json is out of date: run bench/classify/run")
        print("classifier.json is current")
        return
    sites = np.array([r["site"] for r in decl])
    y = [F.CLASSES.index(r["label"]) for r in decl]
    pred_model = np.zeros(len(decl), dtype=int)
    folds_dir = os.path.join(HERE, "folds")
    os.makedirs(folds_dir, exist_ok=True)
    fold_of = np.zeros(len(decl), dtype=int)
    for k, (tr, te) in enumerate(GroupKFold(n_splits=5).split(decl, y, groups=sites)):
        train = ocd + [decl[i] for i in tr]
        m = fit(train, [1.0] * len(ocd) + [DECL_WEIGHT] * len(tr))
        exp = export(m)
        pred_model[te] = predict_export(exp, [decl[i] for i in te])
        fold_of[te] = k
        with open(os.path.join(folds_dir, "fold%d.json" % k), "w") as f:
            json.dump(exp, f)
    pred_ocd = [F.CLASSES.index(ocd_lookup_purpose(ocd, r)) for r in decl]
    oracle = name_oracle(decl)
    cov = [i for i, o in enumerate(oracle) if o is not None]
    res = {
        "rows": len(decl), "sites": int(len(set(sites))), "ocd_rows": len(ocd),
        "folds": 5, "model": metrics(y, pred_model), "ocd_lookup": metrics(y, pred_ocd),
        "name_oracle": metrics([y[i] for i in cov], [F.CLASSES.index(oracle[i]) for i in cov]),
        "model_on_oracle_rows": metrics([y[i] for i in cov], [pred_model[i] for i in cov]),
        "oracle_rows": [int(i) for i in cov],
        "fold_of_row": fold_of.tolist(),
    }
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    full = export(fit(ocd + decl, [1.0] * len(ocd) + [DECL_WEIGHT] * len(decl)))
    old = json.load(open(MODEL)) if os.path.exists(MODEL) else {}
    if not same_model(full, old):  # keep the committed file when only the last bits differ
        with open(MODEL, "w") as f:
            f.write(json.dumps(full, indent=1) + "\n")
    else:
        full = old
    # Parity cases for the Rust feature code.
    parity = []
    for r in decl[:: max(1, len(decl) // 40)] + ocd[:: max(1, len(ocd) // 20)]:
        parity.append({"name": r["name"], "domain": r.get("domain") or None,
                       "storage": r.get("storage", "cookie"), "party": r.get("party"),
                       "seconds": r.get("seconds"), "value": r.get("value"),
                       "http_only": r.get("http_only"), "secure": r.get("secure"),
                       "features": feats(r),
                       "class": F.CLASSES[int(predict_export(full, [r])[0])]})
    with open(os.path.join(HERE, "data", "parity.json"), "w") as f:
        json.dump(parity, f, indent=1)
    for k in ("model", "ocd_lookup", "name_oracle", "model_on_oracle_rows"):
        m = res[k]
        print("%-10s acc %.3f bal %.3f rec %s nec->mkt %d" % (
            k, m["accuracy"], m["balanced_accuracy"],
            {c: round(v, 3) for c, v in m["recall"].items()}, m["necessary_as_marketing"]))
    print("rows %d sites %d" % (res["rows"], res["sites"]))


if __name__ == "__main__":
    main()
