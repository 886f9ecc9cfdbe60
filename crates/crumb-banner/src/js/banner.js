/* Crumb consent banner, first stage. Source of dist/banner.min.js (built by ../../build.sh).
 * ES2020 at most, no framework, no eval, no inline handlers.
 * crumb_banner replaces __CRUMB_CONFIG__ (crumb_core::client::ClientConfig without what only
 * the second stage needs, plus `more` and `more_sri`) and __CRUMB_TEXT__ (UI strings of the
 * site's languages) with JSON literals.
 * The second stage (more.js, served as /s/{site}/banner-more.js) holds the preferences dialog
 * and the deletion of refused cookies; it is loaded with Subresource Integrity on the first
 * click that needs it, so the first request stays small and does not grow with the number of
 * declared cookies. */
import CSS from "./banner.css";

(() => {
  "use strict";
  const w = window;
  const d = document;
  const nav = navigator;
  const loc = location;
  if (w.Crumb) return; // included twice: the first copy rules
  const C = __CRUMB_CONFIG__;
  const T = __CRUMB_TEXT__;
  const cur = d.currentScript;
  const nonce = (cur && cur.nonce) || "";
  // the server inlines relative URLs; they are relative to this script's own URL
  ["api", "declaration", "policy_url", "more"].forEach((k) => (C[k] = new URL(C[k], (cur && cur.src) || loc.href).href));
  const cats = C.categories;
  const L = C.languages;
  const byId = {};
  cats.forEach((c) => (byId[c.id] = c));
  const OUT = C.mode == "opt_out";
  const X = {}; // shared with the second stage

  // ---- language: the first of navigator.languages the site offers (exact, then base) ------
  const base = (l) => l.toLowerCase().split("-")[0];
  const pick = () => {
    for (const l of nav.languages || [nav.language || ""]) {
      const hit = L.find((s) => s.toLowerCase() == l.toLowerCase()) || L.find((s) => base(s) == base(l));
      if (hit) return hit;
    }
    return L[0];
  };
  const lang = pick();
  const t = T[lang] || T[L[0]];
  const tx = (m) => m[lang] || m[L[0]] || "";

  // ---- signals ------------------------------------------------------------------------
  const sigs = [];
  if (nav.globalPrivacyControl === true && C.signals.gpc == "honor") sigs.push("Global Privacy Control");
  if ((nav.doNotTrack == "1" || w.doNotTrack == "1") && C.signals.dnt == "honor") sigs.push("Do Not Track");

  // ---- the consent cookie: 1.<id|->.<version>.<granted~|->.<unix secs> --------------------
  const NAME = C.cookie.name;
  const now = () => Math.floor(Date.now() / 1000);
  const parse = () => {
    const kv = d.cookie.split("; ").find((c) => c.slice(0, NAME.length + 1) == NAME + "=");
    const p = kv ? kv.slice(NAME.length + 1).replace(/"/g, "").split(".") : [];
    const at = +p[4];
    // a decision on a version outside valid_versions (material change) or past its lifetime is asked again
    return p.length == 5 && p[0] == "1" && at >= 0 && C.valid_versions.includes(p[2]) && now() - at < C.lifetime_days * 86400 && at < now() + 300
      ? { id: p[1] == "-" ? null : p[1], version: p[2], granted: p[3] == "-" ? [] : p[3].split("~"), at }
      : null;
  };
  const write = (s) => {
    const dm = (C.cookie.domain || "").replace(/^\./, "");
    const h = loc.hostname;
    d.cookie =
      NAME +
      "=" +
      ["1", s.id || "-", s.version, s.granted.join("~") || "-", s.at].join(".") +
      ";Path=/;Max-Age=" +
      C.lifetime_days * 86400 +
      ";SameSite=Lax" +
      (dm && (h == dm || h.endsWith("." + dm)) ? ";Domain=" + dm : "") +
      (loc.protocol == "https:" ? ";Secure" : "");
  };
  let saved = parse();

  const allowed = (id) => {
    const c = byId[id];
    return !!c && (c.required || (saved ? saved.granted.includes(id) : OUT && !(sigs.length && c.signals_deny)));
  };
  const choices = () => {
    const ch = {};
    cats.forEach((c) => (ch[c.id] = allowed(c.id)));
    return ch;
  };

  // ---- Google Consent Mode v2: default denied before any tag, update on every decision/page ---
  const dl = (w.dataLayer = w.dataLayer || []);
  function gtag() {
    dl.push(arguments);
  }
  const KEYS = "ad_storage ad_user_data ad_personalization analytics_storage functionality_storage personalization_storage security_storage".split(" ");
  const cm = (def) => {
    const o = {};
    KEYS.forEach((k) => (o[k] = "denied"));
    if (def) {
      o.wait_for_update = 500;
      if (C.region) o.region = [C.region];
    } else cats.forEach((c) => allowed(c.id) && c.consent_mode.forEach((k) => (o[k] = "granted")));
    return o;
  };
  gtag("consent", "default", cm(1));
  // by_country: where opt-out applies, Consent Mode's own region-scoped default is granted.
  if (C.opt_out_regions.length) {
    const g = { region: C.opt_out_regions };
    KEYS.forEach((k) => (g[k] = "granted"));
    gtag("consent", "default", g);
  }
  const update = () => gtag("consent", "update", cm());
  if (saved || cats.some((c) => allowed(c.id) && c.consent_mode.length)) update();

  // ---- gated scripts (in document order, each exactly once) and iframes --------------------
  const ok = (e) => e.getAttribute("data-crumb-category").split(/\s+/).every(allowed);
  const queue = [];
  let busy = 0;
  const pump = () => {
    while (!busy && queue.length) {
      const s = queue.shift();
      const n = d.createElement("script");
      for (const a of s.attributes) if (!/^(type|nonce|data-crumb-category)$/.test(a.name)) n.setAttribute(a.name, a.value);
      n.type = s.getAttribute("data-crumb-type") || "text/javascript";
      n.nonce = s.nonce || nonce;
      if (s.src) {
        busy = 1;
        n.async = false;
        n.onload = n.onerror = () => {
          busy = 0;
          pump();
        };
      } else n.text = s.text;
      s.replaceWith(n); // the original is gone, so it can never run twice
    }
  };
  const frame = (f) => {
    let ph = f._crumb;
    if (ok(f)) {
      if (ph) ph.remove();
      f.style.display = "";
      f.src = f.getAttribute("data-crumb-src");
      f.removeAttribute("data-crumb-src");
    } else if (!ph) {
      const cat = f.getAttribute("data-crumb-category").split(/\s+/);
      const sid = f.getAttribute("data-crumb-service");
      const cn = cat.map((id) => (byId[id] ? tx(byId[id].title) : id)).join(", ");
      let sn = f.title;
      cats.forEach((c) => c.services.forEach((s) => s.id == sid && (sn = s.name)));
      mount();
      ph = f._crumb = el("div", "crumb-ph");
      if (f.offsetWidth) {
        ph.style.width = f.offsetWidth + "px";
        ph.style.height = f.offsetHeight + "px";
      }
      const o = {};
      cat.forEach((id) => (o[id] = true));
      ph.append(el("p", 0, t.blocked.replace("{s}", sn || cn).replace("{c}", cn)), btn(t.allow, () => set(o)));
      f.before(ph);
      f.style.display = "none";
    }
  };
  const activate = () => {
    d.querySelectorAll("script[type='text/plain'][data-crumb-category]").forEach((s) => {
      if (!s._crumb && ok(s)) queue.push((s._crumb = s));
    });
    pump();
    d.querySelectorAll("iframe[data-crumb-src][data-crumb-category]").forEach(frame);
  };

  // ---- events and the decision record ---------------------------------------------------
  const subs = [];
  const get = () => ({
    consent_id: saved ? saved.id : null,
    decided: !!saved,
    version: C.version,
    at: saved ? saved.at : null,
    mode: C.mode,
    language: lang,
    signals: sigs.slice(),
    choices: choices(),
  });
  const emit = (name) => {
    const det = get();
    if (name == "change")
      subs.forEach((f) => {
        try {
          f(det);
        } catch (e) {
          setTimeout(() => {
            throw e;
          });
        }
      });
    d.dispatchEvent(new CustomEvent("crumb:" + name, { detail: det }));
  };
  // Never blocks: fetch keepalive survives navigation. Posts go one after another, so a
  // decision made before the first receipt arrived still carries its consent id. Retried on
  // network errors, 429 and 5xx after 1, 3, 9 and 27 s.
  let cid = saved && saved.id;
  let chain = Promise.resolve();
  const send = (body, n) => {
    if (cid) body.consent_id = cid;
    return fetch(C.api, {
      method: "POST",
      keepalive: true,
      credentials: "omit",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    })
      .then((r) => {
        if (r.status == 201) return r.json();
        if (r.status == 429 || r.status > 499) throw 0;
      })
      .then((j) => {
        if (j && j.consent_id) {
          cid = cid || j.consent_id;
          if (saved && !saved.id) {
            saved.id = cid;
            write(saved);
          }
          emit("recorded");
        }
      })
      .catch(() => n < 4 && new Promise((ok) => setTimeout(ok, 1000 * 3 ** n)).then(() => send(body, n + 1)));
  };
  const decide = (ch, action) => {
    const before = saved ? saved.granted : [];
    const granted = cats.filter((c) => !c.required && ch[c.id]).map((c) => c.id);
    if (action == "save" && granted.length < before.length && granted.every((g) => before.includes(g))) action = "withdraw";
    saved = { id: cid, version: C.version, granted, at: now() };
    write(saved);
    if (cats.some((c) => !allowed(c.id))) more(() => X.purge());
    activate();
    update();
    hide();
    const body = { site: C.site, policy_version: C.version, choices: choices(), action, language: lang, url: loc.origin + loc.pathname };
    chain = chain.then(() => send(body, 0));
    emit("change");
  };
  const all = (v) => {
    const ch = {};
    cats.forEach((c) => (ch[c.id] = v || c.required));
    return ch;
  };
  const set = (o) => {
    const ch = choices();
    for (const k in o) if (byId[k]) ch[k] = !!o[k];
    decide(ch, "save");
  };

  // ---- UI ---------------------------------------------------------------------------------
  let root, bar, fab, stage2;
  const el = (tag, cls, text) => {
    const e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  };
  const btn = (text, fn, cls) => {
    const b = el("button", cls || "cb-b", text);
    b.type = "button";
    b.onclick = fn;
    return b;
  };
  const style = (css) => {
    const s = el("style");
    s.nonce = nonce;
    s.textContent = css;
    d.head.append(s);
  };
  const mount = () => {
    if (!root) {
      style(CSS);
      root = el("div");
      root.id = "crumb";
      root.lang = lang;
      root.dir = /^(ar|he|fa|ur|ps|yi|dv|ckb|sd|ug)\b/i.test(lang) ? "rtl" : "ltr";
      d.body.append(root);
    }
    return root;
  };
  const dialog = (cls, id, title, text) => {
    const box = el("div", cls);
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-labelledby", id + "t");
    box.setAttribute("aria-describedby", id + "d" + (sigs.length ? " " + id + "s" : ""));
    box.tabIndex = -1;
    const h = el("h2", 0, title);
    const p = el("p", 0, text + " ");
    const a = el("a", 0, t.policy);
    h.id = id + "t";
    p.id = id + "d";
    a.href = C.policy_url;
    p.append(a);
    box.append(h, p);
    if (sigs.length) {
      const s = el("p", "cb-sig", t.signal.replace("{s}", sigs.join(" / ")));
      s.id = id + "s";
      box.append(s);
    }
    return box;
  };
  const row = (b) => {
    const r = el("div", "cb-row");
    r.append(btn(t.accept, () => decide(all(1), "accept_all")), btn(OUT ? t.dns : t.reject, () => decide(all(0), "reject_all")), b);
    return r;
  };
  const focus = (e) => e.focus({ preventScroll: true });
  const showBar = () => {
    mount();
    if (!bar) {
      bar = dialog("cb-bar", "cb-", t.title, t.text);
      bar.append(row(btn(t.prefs, show)));
      root.append(bar);
    }
    bar.style.display = "";
    if (fab) fab.style.display = "none";
    focus(bar);
  };
  const hide = () => {
    const b = X.back;
    const mine = root && root.contains(d.activeElement);
    if (bar) bar.style.display = "none";
    if (X.close) X.close(1);
    if (C.floating_button && C.needs_banner) {
      mount();
      fab = fab || root.appendChild(btn(t.fab, show, "cb-fab"));
      fab.style.display = "";
    }
    const to = b && b != d.body && b.getClientRects().length ? b : fab;
    if (mine && to) focus(to);
  };
  // load the second stage once (with its SRI hash), then run fn
  const more = (fn) => {
    if (X.open) return fn();
    if (!stage2) {
      stage2 = el("script");
      stage2.src = C.more;
      stage2.integrity = C.more_sri;
      stage2.crossOrigin = "anonymous";
      stage2.nonce = nonce;
      stage2.onerror = () => {
        stage2.remove();
        stage2 = 0;
      };
      stage2.fns = [];
      d.head.append(stage2);
    }
    stage2.fns.push(fn);
    stage2.onload = () => stage2.fns.forEach((f) => f());
  };
  const show = () => more(() => X.open());

  Object.assign(X, { C, t, tx, lang, nonce, allowed, decide, el, btn, style, mount, dialog, row, focus, emit, bar: () => bar && bar.style.display != "none" && bar });
  w.Crumb = { _: X, show, get, allowed, set, on: (e, f) => e == "change" && subs.push(f) };

  const start = () => {
    activate();
    d.addEventListener("click", (e) => {
      if (C.needs_banner && e.target.closest && e.target.closest("[data-crumb-open]")) {
        e.preventDefault();
        show();
      }
    });
    if (C.needs_banner) saved ? hide() : showBar();
    emit("ready");
  };
  d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", start) : start();
})();
