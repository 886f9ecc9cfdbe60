#!/usr/bin/env python3
"""Alternatives to the embedded model, measured on the same 5 site-grouped folds as train.py
(README.md "Where it stands" reports them). Each setting below was fixed before the run and
run once; nothing here is tuned on the folds, and nothing here is embedded.

  python3 bench/classify/experiments.py     # about 2 minutes on 2 cores

1. Gradient-boosted trees (scikit-learn HistGradientBoostingClassifier) over dense features:
   the Open Cookie Database category of the name (exact, else longest prefix of at least 4),
   name length, token, digit and uppercase counts, a leading `_`, party, log lifetime,
   storage, value shape, value length and entropy, HttpOnly, Secure. Trained on the
   declarations only (the database rows would teach it that the database is always right).
2. The logistic model and the trees averaged (probability weights 0.3, 0.5, 0.7 for the
   logistic model).
3. The logistic model with keyword-group features added to features.py's (preference,
   media, chat, session words; see LEX).
"""
import collections
import math
import os
import sys

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import features as F  # noqa: E402
import train as T  # noqa: E402

SHAPES = [None, "empty", "number", "timestamp", "uuid", "vendor_id", "json", "hex", "urlencoded",
          "base64", "locale", "bool", "text"]
LEX = {
    "pref": ["lang", "locale", "language", "currency", "country", "region", "theme", "font", "timezone",
             "tz", "dark", "mode", "layout", "view", "pref", "setting", "wishlist", "recent", "viewed",
             "compare", "store", "location", "geo"],
    "media": ["video", "player", "vimeo", "youtube", "ytidb", "yt", "audio", "volume", "jwplayer", "vuid"],
    "chat": ["chat", "intercom", "zendesk", "zopim", "drift", "crisp", "tawk", "livechat", "messages",
             "olark", "freshchat", "lc"],
    "auth": ["session", "sess", "sid", "auth", "token", "csrf", "xsrf", "login", "logged", "user", "secure",
             "remember", "cart", "basket", "checkout", "captcha", "recaptcha", "cf", "bm", "awsalb", "lb",
             "balancer", "route"],
}


def entropy(v):
    c = collections.Counter(v)
    return -sum(k / len(v) * math.log2(k / len(v)) for k in c.values())


def dense(r, exact, prefixes):
    name = r["name"]
    o = exact.get(name)
    if o is None:
        ps = [p for p in prefixes if name.startswith(p["name"]) and len(p["name"]) >= 4]
        o = max(ps, key=lambda p: len(p["name"])) if ps else None
    cat = [0] * 5
    cat[0 if o is None else 1 + F.CLASSES.index(o["label"])] = 1
    sec, v = r.get("seconds"), r.get("value")
    return cat + [
        len(name), len(F.tokens(name)), sum(c.isdigit() for c in name), sum(c.isupper() for c in name),
        int(name.startswith("_")), {"first": 1, "third": 2}.get(r.get("party"), 0),
        -1 if sec is None else math.log1p(sec), {"cookie": 0, "local": 1, "session": 2}[r.get("storage", "cookie")],
        SHAPES.index(F.value_shape(v)), -1 if v is None else len(v), entropy(v) if v else -1,
        -1 if r.get("http_only") is None else int(r["http_only"]),
        -1 if r.get("secure") is None else int(r["secure"]),
    ]


def trees(x, y):
    cw = len(y) / (4 * np.maximum(np.bincount(y, minlength=4), 1))
    g = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=10,
                                       l2_regularization=1.0, early_stopping=False, random_state=0)
    return g.fit(x, y, sample_weight=cw[y])


def with_keywords():
    plain = F.features

    def features(*a, **k):
        f = plain(*a, **k)
        low, toks = a[0].lower(), set(F.tokens(a[0]))
        f += ["kw:" + g for g, ws in LEX.items() if any(w in toks or (len(w) >= 4 and w in low) for w in ws)]
        return f
    return features


def show(label, y, p):
    m = T.metrics(y, p)
    print("%-28s acc %.3f  bal %.3f  functional %.3f  nec->mkt %d" % (
        label, m["accuracy"], m["balanced_accuracy"], m["recall"]["functional"], m["necessary_as_marketing"]))


def main():
    ocd, decl = T.load_ocd(), T.load_decl()
    exact = {}
    for o in ocd:
        if not o["wildcard"]:
            exact.setdefault(o["name"], o)
    prefixes = [o for o in ocd if o["wildcard"]]
    y = np.array([F.CLASSES.index(r["label"]) for r in decl])
    sites = np.array([r["site"] for r in decl])
    x = np.array([dense(r, exact, prefixes) for r in decl], dtype=float)
    folds = list(GroupKFold(n_splits=5).split(decl, y, groups=sites))
    lr, gb, kw = (np.zeros((len(decl), 4)) for _ in range(3))
    plain = F.features
    for tr, te in folds:
        w = [1.0] * len(ocd) + [T.DECL_WEIGHT] * len(tr)
        train_rows, test_rows = ocd + [decl[i] for i in tr], [decl[i] for i in te]
        lr[te] = T.fit(train_rows, w).predict_proba(T.matrix(test_rows))
        gb[te] = trees(x[tr], y[tr]).predict_proba(x[te])
        F.features = with_keywords()
        kw[te] = T.fit(train_rows, w).predict_proba(T.matrix(test_rows))
        F.features = plain
    show("logistic (float weights)", y, lr.argmax(1))
    show("trees, dense features", y, gb.argmax(1))
    for a in (0.3, 0.5, 0.7):
        show("average, logistic %.1f" % a, y, (a * lr + (1 - a) * gb).argmax(1))
    show("logistic + keyword groups", y, kw.argmax(1))


if __name__ == "__main__":
    main()
