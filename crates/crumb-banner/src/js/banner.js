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
  const w = window;
  const d = document;
  const nav = navigator;
  const loc = location;
  if (w.Crumb) return; // included twice: the first copy rules
  const C = __CRUMB_CONFIG__;
  const T = __CRUMB_TEXT__;
  const cur = d.currentScript;
  const nonce = cur?.nonce || "";
  // the server inlines relative URLs; they are relative to this script's own URL
  ["api", "policy_url", "more"].forEach((k) => (C[k] = new URL(C[k], cur?.src || loc.href).href));
  const cats = C.categories;
  const L = C.languages;
  const byId = {};
  cats.forEach((c) => ((byId[c.id] = c), c.block && (c.re = RegExp(c.block)))); // compiled once
  const OUT = C.mode == "opt_out";
  const X = {}; // shared with the second stage

  // ---- language: the first of navigator.languages the site offers (exact, then base) ------
  const base = (l) => l.toLowerCase().split("-")[0];
  const pick = () => {
    for (const l of nav.languages) {
      const hit = L.find((s) => s.toLowerCase() == l.toLowerCase()) || L.find((s) => base(s) == base(l));
      if (hit) return hit;
    }
    return L[0];
  };
  const lang = pick();
  const t = T[lang]; // the server inlines every language it offers

  // ---- signals ------------------------------------------------------------------------
  const sigs = [];
  if (nav.globalPrivacyControl === true && C.signals.gpc == "honor") sigs.push("Global Privacy Control");
  if (nav.doNotTrack == "1" && C.signals.dnt == "honor") sigs.push("Do Not Track");

  // ---- the consent cookie: 1.<id|->.<version>.<granted~|->.<unix secs> --------------------
  const NAME = C.cookie.name;
  const now = () => (Date.now() / 1000) | 0;
  const parse = () => {
    const kv = d.cookie.split("; ").find((c) => c.startsWith(NAME + "="));
    const p = kv ? kv.slice(NAME.length + 1).replace(/"/g, "").split(".") : [];
    const at = +p[4];
    // a decision on a version outside valid_versions (material change) or past its lifetime is asked again
    return p.length == 5 && p[0] == "1" && at >= 0 && C.valid_versions.includes(p[2]) && now() - at < C.max_age && at < now() + 300
      ? { id: p[1] == "-" ? null : p[1], version: p[2], granted: p[3] == "-" ? [] : p[3].split("~"), at }
      : null;
  };
  const write = (s) => {
    const dm = C.cookie.domain;
    d.cookie =
      NAME +
      "=" +
      ["1", s.id || "-", s.version, s.granted.join("~") || "-", s.at].join(".") +
      ";Path=/;Max-Age=" +
      C.max_age +
      ";SameSite=Lax" +
      (dm && ("." + loc.hostname).endsWith("." + dm) ? ";Domain=" + dm : "") +
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

  // ---- interceptor: what scripts insert at run time waits for consent ----------------------
  // The refused category whose declared hosts or URL patterns match URL u (`block`: one
  // regex over host, path and query, built by the server from the inventory).
  const refused = (u) => {
    try {
      u = new URL(u, loc.href);
      u = u.host + u.pathname + u.search;
    } catch (e) {
      return;
    }
    const c = cats.find((c) => c.re && !allowed(c.id) && c.re.test(u));
    return c?.id;
  };
  const A = "data-crumb-";
  const EP = Element.prototype;
  const SA = EP.setAttribute;
  const TAG = { SCRIPT: "src", IFRAME: "src", IMG: "src", LINK: "href" };
  const held = new Set(); // elements whose request waits, in the order they were stopped
  // src/href of a script, iframe, img or link to a refused category: kept in data-crumb-*
  const hold = (e, a, v) => {
    const c = TAG[e.tagName] == a && refused(v);
    if (c) {
      SA.call(e, A + a, v);
      SA.call(e, A + "category", c);
      held.add(e);
    }
    return c;
  };
  [HTMLScriptElement, HTMLIFrameElement, HTMLImageElement, HTMLLinkElement].forEach((K) => {
    const a = K == HTMLLinkElement ? "href" : "src";
    const pd = Object.getOwnPropertyDescriptor(K.prototype, a);
    Object.defineProperty(K.prototype, a, {
      ...pd,
      set(v) {
        hold(this, a, v) || pd.set.call(this, v);
      },
    });
  });
  EP.setAttribute = function (a, v) {
    return hold(this, (a + "").toLowerCase(), v + "") || SA.apply(this, arguments);
  };
  // backstop for markup the setters never see (innerHTML, document.write, the parser). The
  // parser adds elements one by one, before their children: those are checked without a query.
  const check = (e) => {
    const a = TAG[e.tagName];
    const v = a && e.getAttribute(a);
    // a script without src is not started yet: restoring src later runs it
    if (v && !e.hasAttribute(A + "category") && refused(v)) e.removeAttribute(a), hold(e, a, v);
  };
  new MutationObserver((ms) =>
    ms.forEach((m) =>
      m.addedNodes.forEach((n) => (n.firstElementChild ? [n, ...n.querySelectorAll("script,iframe,img,link")].forEach(check) : check(n))),
    ),
  ).observe(d, { childList: 1, subtree: 1 });
  // fetch, sendBeacon and XMLHttpRequest to a refused category fail
  const F = w.fetch;
  w.fetch = (...a) => (refused(a[0]?.url || a[0]) ? Promise.reject(TypeError("Crumb")) : F(...a));
  const B = nav.sendBeacon;
  nav.sendBeacon = (u, b) => !refused(u) && B.call(nav, u, b);
  const XP = XMLHttpRequest.prototype;
  const XO = XP.open;
  // about:blank fails like a network error, without a request
  XP.open = function (m, u) {
    return XO.apply(this, refused(u) ? [m, "about:blank"] : arguments);
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
    if (def) o.wait_for_update = 500;
    else cats.forEach((c) => allowed(c.id) && c.consent_mode.forEach((k) => (o[k] = "granted")));
    return o;
  };
  gtag("consent", "default", cm(1));
  // Microsoft UET reads the same queue shape from window.uetq
  (w.uetq = w.uetq || []).push("consent", "default", { ad_storage: "denied" });
  // by_country: where opt-out applies, Consent Mode's own region-scoped default is granted.
  if (C.opt_out_regions.length) {
    const g = { region: C.opt_out_regions };
    KEYS.forEach((k) => (g[k] = "granted"));
    gtag("consent", "default", g);
  }
  const update = () => {
    const o = cm();
    const fb = w.fbq;
    const s = ["consent", o.ad_storage == "granted" ? "grant" : "revoke"];
    gtag("consent", "update", o);
    w.uetq.push("consent", "update", { ad_storage: o.ad_storage });
    if (w.clarity) clarity("consentv2", { ad_Storage: o.ad_storage, analytics_Storage: o.analytics_storage });
    // Meta Pixel: before fbevents.js has loaded, first in its queue (ahead of the queued init
    // and PageView), in place of the one put there before
    if (fb) fb.callMethod ? fb(...s) : fb.queue?.splice(0, fb.queue[0]?.[0] == "consent", s);
  };
  if (saved || cats.some((c) => allowed(c.id) && c.consent_mode.length)) update();

  // ---- gated scripts (in document order, each exactly once) and iframes --------------------
  const ok = (e) => e.getAttribute("data-crumb-category").split(/\s+/).every(allowed);
  const queue = [];
  let busy = 0;
  const pump = () => {
    while (!busy && queue.length) {
      const s = queue.shift();
      const n = s.cloneNode(true); // a text/plain script never started, nor does its copy
      n.removeAttribute(A + "category");
      n.type = s.getAttribute(A + "type") || ""; // empty: a classic script
      n.nonce = s.nonce || nonce;
      if (s.src) {
        busy = 1;
        n.onload = n.onerror = () => {
          busy = 0;
          pump();
        };
      }
      s.replaceWith(n); // the original is gone, so it can never run twice
    }
  };
  // data-crumb-src/-srcset/-poster/-href back in place (through the interceptor, which holds
  // it again for another refused category)
  const restore = (e) =>
    ["src", "srcset", "poster", "href"].forEach((a) => {
      const v = e.getAttribute(A + a);
      if (v != null) {
        e.removeAttribute(A + a);
        e.setAttribute(a, v);
      }
    });
  const activate = () => {
    d.querySelectorAll("script[type='text/plain'][data-crumb-category]").forEach((s) => {
      if (!s._crumb && ok(s)) queue.push((s._crumb = s));
    });
    pump();
    held.forEach((e) => ok(e) && (restore(e), held.delete(e)));
    // iframes the page declared get a click-to-load placeholder (drawn by the second stage)
    d.querySelectorAll("[data-crumb-category]:not(script)").forEach((e) => {
      const p = e._crumb;
      if (ok(e)) {
        if (p) p.remove(), (e.style.display = "");
        restore(e);
      } else if (!p && e.tagName == "IFRAME" && !held.has(e) && e.hasAttribute(A + "src")) more(() => X.frame(e));
    });
  };

  // ---- events and the decision record ---------------------------------------------------
  const subs = [];
  const get = () => ({
    consent_id: saved?.id ?? null,
    decided: !!saved,
    version: C.version,
    at: saved?.at ?? null,
    mode: C.mode,
    language: lang,
    signals: [...sigs],
    choices: choices(),
  });
  const emit = (name) => {
    const det = get();
    if (name == "change") subs.forEach((f) => setTimeout(f, 0, det)); // a throwing listener stops no other
    d.dispatchEvent(new CustomEvent("crumb:" + name, { detail: det }));
  };
  // Never blocks: fetch keepalive survives navigation. Posts go one after another, so a
  // decision made before the first receipt arrived still carries its consent id. Retried on
  // network errors, 429 and 5xx after 1, 3, 9 and 27 s.
  let cid = saved?.id;
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
        if (j?.consent_id) {
          // the visitor's receipt, offered for download in the preferences (more.js)
          try {
            localStorage[NAME] = JSON.stringify(j);
          } catch (e) {}
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
    const before = saved?.granted || [];
    const granted = cats.filter((c) => !c.required && ch[c.id]).map((c) => c.id);
    if (action == "save" && granted.length < before.length && granted.every((g) => before.includes(g))) action = "withdraw";
    saved = { id: cid, version: C.version, granted, at: now() };
    write(saved);
    hide();
    const body = { site: C.site, policy_version: C.version, choices: choices(), action, language: lang, url: loc.origin + loc.pathname };
    // the rest after the next frame, so the banner is gone in the frame after the click
    after(() => {
      if (cats.some((c) => !allowed(c.id))) more(() => X.purge());
      activate();
      update();
      chain = chain.then(() => send(body, 0));
      emit("change");
    });
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
  const style = (css) => {
    const s = el("style");
    s.nonce = nonce;
    s.textContent = css;
    d.head.append(s);
  };
  const sig = sigs.length ? t.signal.replace("{s}", sigs.join(" / ")) : "";
  const acts = [() => decide(all(1), "accept_all"), () => decide(all(0), "reject_all")];
  // The first layer's markup comes from the server (t.bar, first_layer_html renders the same
  // into the page through the proxy); the script adds the link, the buttons and the signal.
  const wire = (b) => {
    b.querySelector("a").href = C.policy_url;
    b.querySelectorAll("button").forEach((x, i) => (x.onclick = [...acts, show][i]));
    if (sig) {
      const s = el("p", "cb-sig", sig);
      s.id = "cb-s";
      b.querySelector("p").after(s);
      b.setAttribute("aria-describedby", "cb-d cb-s");
    }
    return b;
  };
  const mount = () => {
    if (!root) {
      root = d.getElementById("crumb");
      if (root?.lang == lang) bar = wire(root.querySelector(".cb-bar"));
      else {
        if (root) root.remove(); // rendered for another language
        style(CSS);
        root = el("div");
        root.id = "crumb";
        root.lang = lang;
        root.dir = t.dir;
        d.body.append(root);
      }
    }
    return root;
  };
  const focus = (e) => e?.focus({ preventScroll: true });
  // fn in a task after the next frame has been rendered (focus() forces style and layout, so
  // it waits until the frame has done that work; a hidden page renders no frames)
  const after = (fn) => (d.hidden ? setTimeout : requestAnimationFrame)(() => setTimeout(fn));
  const showBar = () => {
    mount();
    if (!bar) {
      root.insertAdjacentHTML("afterbegin", t.bar);
      bar = wire(root.firstChild);
    }
    bar.hidden = 0;
    if (fab) fab.hidden = 1;
    after(() => focus(bar));
  };
  const hide = () => {
    const b = X.back;
    const mine = root?.contains(d.activeElement);
    if (bar) bar.hidden = 1;
    X.close?.(1);
    if (C.floating_button) {
      mount();
      if (!fab) {
        root.insertAdjacentHTML("beforeend", t.fab);
        (fab = root.lastChild).onclick = show;
      }
      fab.hidden = 0;
    }
    if (mine) after(() => focus(b && b != d.body && b.getClientRects().length ? b : fab));
  };
  // load the second stage once (with its SRI hash), then run fn
  const more = (fn) =>
    (stage2 =
      stage2 ||
      new Promise((ok, no) => {
        const s = el("script");
        s.src = C.more;
        s.integrity = C.more_sri;
        s.crossOrigin = "anonymous";
        s.nonce = nonce;
        s.onload = ok;
        s.onerror = () => {
          s.remove();
          stage2 = 0; // try again next time
          no();
        };
        d.head.append(s);
      })).then(fn, () => {});
  const show = () => more(() => X.open());

  Object.assign(X, { C, t, set, lang, allowed, decide, el, style, mount, sig, acts, focus, emit, bar: () => bar && !bar.hidden && bar });
  w.Crumb = { _: X, show, get, allowed, set, on: (e, f) => e == "change" && subs.push(f) };

  const start = () => {
    activate();
    if (w.fbq) update(); // the Meta Pixel snippet ran in the head
    d.addEventListener("click", (e) => {
      if (C.needs_banner && e.target.closest?.("[data-crumb-open]")) {
        e.preventDefault();
        show();
      }
    });
    if (C.needs_banner) saved ? hide() : showBar();
    emit("ready");
  };
  d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", start) : start();
})();
