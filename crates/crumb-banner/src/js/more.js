/* Crumb consent banner, second stage: the preferences dialog and the deletion of refused
 * categories' cookies and storage. Source of dist/more.min.js (built by ../../build.sh), served
 * as /s/{site}/banner-more.js and loaded by banner.js (with SRI) on the first Crumb.show() or
 * refusal. crumb_banner replaces __CRUMB_MORE__ with
 * {declaration (URL, relative to this script's), categories: {id: {title, description, services}},
 * text: {lang: {...}}}. */
import CSS from "./more.css";

(() => {
  "use strict";
  const X = window.Crumb && window.Crumb._;
  if (!X || X.open) return;
  const P = __CRUMB_MORE__;
  const d = document;
  const loc = location;
  const { C, el } = X;
  const btn = (text, fn, cls) => {
    const b = el("button", cls || "cb-b", text);
    b.type = "button";
    b.onclick = fn;
    return b;
  };
  const L = C.languages;
  const t = Object.assign({}, X.t, P.text[X.lang] || P.text[L[0]]);
  const tx = (m) => m[X.lang] || m[L[0]] || "";
  const cat = (id) => P.categories[id] || { title: {}, description: {}, services: [] };
  let dlg, decl, styled;
  const css = () => styled || X.style(CSS);
  const dialog = (title, text) => {
    const box = el("div", "cb-box");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-labelledby", "cb-pt");
    box.setAttribute("aria-describedby", "cb-pd" + (X.sig ? " cb-ps" : ""));
    box.tabIndex = -1;
    const h = el("h2", 0, title);
    const p = el("p", 0, text + " ");
    const a = el("a", 0, t.policy);
    h.id = "cb-pt";
    p.id = "cb-pd";
    a.href = C.policy_url;
    p.append(a);
    box.append(h, p);
    if (X.sig) {
      const s = el("p", "cb-sig", X.sig);
      s.id = "cb-ps";
      box.append(s);
    }
    return box;
  };
  const row = (b) => {
    const r = el("div", "cb-row");
    r.append(btn(t.accept, X.acts[0]), btn(t.dns || t.reject, X.acts[1]), b);
    return r;
  };

  // ---- click-to-load placeholder for an iframe of a refused category ------------------------
  X.frame = (f) => {
    if (f._crumb) return;
    const ids = f.getAttribute("data-crumb-category").split(/\s+/);
    const sid = f.getAttribute("data-crumb-service");
    const cn = ids.map((id) => tx(cat(id).title) || id).join(", ");
    let sn = f.title;
    ids.forEach((id) => cat(id).services.forEach((s) => s.id == sid && (sn = s.name)));
    X.mount();
    css();
    styled = 1;
    const ph = (f._crumb = el("div", "crumb-ph"));
    if (f.offsetWidth) {
      ph.style.width = f.offsetWidth + "px";
      ph.style.height = f.offsetHeight + "px";
    }
    const o = {};
    ids.forEach((id) => (o[id] = true));
    ph.append(el("p", 0, t.blocked.replace("{s}", sn || cn).replace("{c}", cn)), btn(t.allow, () => X.set(o)));
    f.before(ph);
    f.style.display = "none";
  };

  // ---- declaration.json (crumb_policy::declaration): per-cookie details and what to delete ----
  const items = (j, id) => (j.categories.find((c) => c.id == id) || { items: [] }).items;
  const getDecl = () =>
    (decl =
      decl ||
      fetch(new URL(P.declaration, C.more), { credentials: "omit" }).then((r) => {
        if (!r.ok) throw r.status;
        return r.json();
      })).catch((e) => {
      decl = 0;
      throw e;
    });

  // expire a cookie under every domain and path it could have been set with
  const kill = (name, p) => {
    const h = loc.hostname.split(".");
    const doms = [""];
    const paths = ["/"];
    h.forEach((_, i) => doms.push(";Domain=" + h.slice(i).join(".")));
    if (p.domain) doms.push(";Domain=" + p.domain);
    const seg = loc.pathname.split("/");
    for (let i = 2; i <= seg.length; i++) paths.push(seg.slice(0, i).join("/"), seg.slice(0, i).join("/") + "/");
    if (p.path) paths.push(p.path);
    doms.forEach((dm) => paths.forEach((pa) => (d.cookie = name + "=;Max-Age=0;Expires=Thu, 01 Jan 1970 00:00:00 GMT;Path=" + pa + dm)));
  };
  const del = (p) => {
    const name = p.pattern;
    const re = p.match == "regex" && new RegExp("^(?:" + name + ")$");
    const m = (n) => (re ? re.test(n) : p.match == "prefix" ? n.startsWith(name) : n == name);
    try {
      if (p.storage == "cookie") {
        d.cookie.split("; ").forEach((kv) => {
          const n = kv.split("=")[0];
          if (n && m(n)) kill(n, p);
        });
      } else if (p.storage == "indexed_db") {
        const idb = indexedDB;
        if (!re && p.match != "prefix") idb.deleteDatabase(name);
        else if (idb.databases) idb.databases().then((l) => l.forEach((x) => m(x.name) && idb.deleteDatabase(x.name)));
      } else {
        const st = p.storage == "local_storage" ? localStorage : sessionStorage;
        for (let i = st.length; i--; ) if (m(st.key(i))) st.removeItem(st.key(i));
      }
    } catch (e) {
      /* storage disabled by the browser: nothing to delete */
    }
  };
  X.purge = () =>
    getDecl()
      .then((j) => {
        C.categories.forEach((c) => X.allowed(c.id) || items(j, c.id).forEach(del));
        X.emit("purged");
      })
      .catch(() => {});

  // ---- the preferences dialog -------------------------------------------------------------
  const close = (quiet) => {
    if (!dlg) return;
    dlg.remove();
    dlg = 0;
    const b = X.bar();
    if (!quiet) X.focus(b || X.back);
  };

  const details = (id, sec, b) => {
    const open = b.getAttribute("aria-expanded") == "true";
    b.setAttribute("aria-expanded", !open);
    if (b._t) return (b._t.style.display = open ? "none" : "");
    const box = (b._t = el("div"));
    box.setAttribute("aria-live", "polite");
    sec.append(box);
    getDecl()
      .then((j) => {
        const tb = el("table");
        items(j, id).forEach((it) => {
          const tr = el("tr");
          const th = el("th", 0, it.name);
          th.scope = "row";
          tr.append(th, el("td", 0, [tx(it.purpose), it.provider, tx(it.duration)].filter(Boolean).join(" \u00b7 ")));
          tb.append(tr);
        });
        box.append(tb);
      })
      .catch(() => box.append(el("p", "cb-m", t.error)));
  };

  const open = () => {
    const root = X.mount();
    css();
    styled = 1;
    close(1);
    X.back = d.activeElement;
    dlg = el("div", "cb-dlg");
    const box = dialog(t.ptitle, t.ptext);
    box.setAttribute("aria-modal", "true");
    const x = btn("\u00d7", () => close(), "cb-x");
    x.setAttribute("aria-label", t.close);
    box.prepend(x);
    C.categories.forEach((c, i) => {
      const more = cat(c.id);
      const sec = el("div", "cb-cat");
      const lab = el("label", "cb-sw");
      const inp = el("input");
      inp.type = "checkbox";
      inp.setAttribute("role", "switch");
      inp.value = c.id;
      inp.checked = X.allowed(c.id);
      inp.disabled = c.required;
      inp.setAttribute("aria-describedby", "cb-c" + i);
      lab.append(inp, el("span", 0, tx(more.title)));
      if (c.required) lab.append(el("span", "cb-m", t.always));
      const desc = el("p", "cb-m", tx(more.description));
      desc.id = "cb-c" + i;
      sec.append(lab, desc);
      if (more.services.length) {
        const sv = el("p", "cb-m", t.used + " ");
        more.services.forEach((s, k) => {
          const a = el(s.privacy_policy ? "a" : "span", 0, s.name + " (" + s.provider + ")");
          if (s.privacy_policy) {
            a.href = s.privacy_policy;
            a.rel = "noopener noreferrer";
            a.target = "_blank";
          }
          sv.append(k ? ", " : "", a);
        });
        sec.append(sv);
      }
      const b = btn(t.details, () => details(c.id, sec, b), "cb-l");
      b.setAttribute("aria-expanded", "false");
      sec.append(b);
      box.append(sec);
    });
    // the receipt of the last recorded decision (banner.js keeps it): a JSON file the visitor
    // can check with `crumb ledger verify-receipt`, made here from a Blob (no request)
    let rc;
    try {
      rc = localStorage[C.cookie.name];
    } catch (e) {}
    if (rc)
      box.append(
        btn(
          t.receipt,
          () => {
            const a = el("a");
            a.href = URL.createObjectURL(new Blob([rc], { type: "application/json" }));
            a.download = "consent-receipt-" + C.site + ".json";
            box.append(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(a.href), 1e4);
          },
          "cb-l",
        ),
      );
    box.append(
      row(
        btn(t.save, () => {
          const ch = {};
          box.querySelectorAll("input").forEach((i) => (ch[i.value] = i.checked));
          X.decide(ch, "save");
        }),
      ),
    );
    dlg.append(box);
    // focus stays inside; Escape closes
    dlg.addEventListener("keydown", (e) => {
      if (e.key == "Escape") {
        e.preventDefault();
        close();
      } else if (e.key == "Tab") {
        const f = box.querySelectorAll("button,a[href],input:not([disabled])");
        const first = f[0];
        const last = f[f.length - 1];
        const a = d.activeElement;
        if (e.shiftKey ? a == first || a == box : a == last) {
          e.preventDefault();
          (e.shiftKey ? last : first).focus();
        }
      }
    });
    root.append(dlg);
    X.focus(box);
  };

  X.open = open;
  X.close = close;
})();
