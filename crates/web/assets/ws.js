"use strict";
// The workspace's interactive parts: sign-in, the forms that act through the JSON API (with the
// session's CSRF token), the language switch, countdowns, and the live stream. The pages work
// without it for reading; acting needs it.
(() => {
  const $ = (s, root = document) => root.querySelector(s);
  const $$ = (s, root = document) => Array.from(root.querySelectorAll(s));
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || "";
  const zh = () => document.documentElement.lang.startsWith("zh");

  async function api(method, url, body) {
    const headers = { "content-type": "application/json" };
    if (method !== "GET") headers["x-csrf-token"] = csrf();
    const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    let j = null;
    try { j = await r.json(); } catch (_) { /* not JSON */ }
    if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("signed out"); }
    if (!r.ok) {
      const e = (j && j.error) || {};
      throw new Error(((zh() ? e.message_zh : e.message) || String(r.status)) + (e.detail ? " " + e.detail : ""));
    }
    return j;
  }

  // Sign-in.
  const login = $("#login");
  if (login) {
    login.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(login);
      const msg = $(".msg", login);
      msg.textContent = "";
      try {
        const r = await fetch("/api/v1/login", { method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: f.get("username"), password: f.get("password") }) });
        const j = await r.json().catch(() => ({}));
        if (!r.ok) {
          const e = j.error || {};
          msg.textContent = (e.message_zh || "") + " / " + (e.message || r.status);
          return;
        }
        const next = new URLSearchParams(location.search).get("next");
        location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
      } catch (e) { msg.textContent = String(e.message || e); }
    });
  }

  // A form that acts: its fields (and data-fixed) as a JSON body to data-api; then data-then
  // (with {id} from the answer) or a reload.
  function bodyOf(form) {
    const body = form.dataset.fixed ? JSON.parse(form.dataset.fixed) : {};
    for (const el of $$("input[name], select[name], textarea[name]", form)) {
      const v = el.value;
      if (el.dataset.inUrl || el.dataset.skip) continue;
      // An optional field left empty is left out (the API's default applies).
      if (v === "" && !el.required && !el.dataset.type) continue;
      switch (el.dataset.type) {
        case "list": body[el.name] = v.split(/[,，]/).map((x) => x.trim()).filter(Boolean); break;
        case "lines": body[el.name] = v.split("\n").map((x) => x.trim()).filter(Boolean); break;
        // A local time in the organization's zone (the form says its offset).
        case "local-time": body[el.name] = v ? (v.length === 16 ? v + ":00" : v) + (form.dataset.zoneOffset || "Z") : null; break;
        case "number": body[el.name] = Number(v); break;
        case "number-or-null": body[el.name] = v === "" ? null : Number(v); break;
        case "hours-from-now": body[el.name] = new Date(Date.now() + Number(v) * 3600e3).toISOString(); break;
        default: body[el.name] = v;
      }
    }
    // An account's grant: one role, for a unit or all.
    if (form.dataset.grant) {
      const unit = ($('[name="unit"]', form) || {}).value || "";
      body.grants = [{ role: $('[name="role"]', form).value, unit: unit || null }];
    }
    return body;
  }
  // A test button inside a form: the same body to its own route; the answer is shown.
  for (const b of $$("form.act button[data-test]")) {
    b.addEventListener("click", async () => {
      const form = b.closest("form");
      const out = $("output.result", form);
      const msg = $(".msg", form);
      if (msg) msg.textContent = "";
      if (out) out.textContent = "…";
      const labels = JSON.parse((out && out.dataset.labels) || "{}");
      try {
        const j = await api("POST", b.dataset.test, bodyOf(form));
        const lines = [(labels[j.status] || j.status) + (j.entries != null ? " · " + j.entries : "")];
        if (j.error) lines.push(j.error);
        for (const s of j.samples || []) lines.push("· " + s);
        for (const p of (j.problems || []).slice(0, 3)) lines.push("! " + p);
        out.textContent = lines.join("\n");
      } catch (e) { if (out) out.textContent = ""; if (msg) msg.textContent = String(e.message || e); }
    });
  }
  for (const form of $$("form.act")) {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const msg = $(".msg", form);
      const button = $("button[type=submit]", form);
      if (msg) msg.textContent = "";
      if (button) button.disabled = true;
      try {
        // data-api-template: the fields marked data-in-url fill its {name} parts.
        let url = form.dataset.api;
        if (form.dataset.apiTemplate) {
          url = form.dataset.apiTemplate.replace(/\{(\w+)\}/g, (_, n) => encodeURIComponent(($(`[name="${n}"]`, form) || {}).value || ""));
        }
        const j = await api(form.dataset.method || "POST", url, bodyOf(form));
        const then = form.dataset.then;
        if (then && j && j.id != null) location.href = then.replace("{id}", j.id);
        else if (form.dataset.done) { if (msg) { msg.classList.add("ok"); msg.textContent = form.dataset.done; } if (button) button.disabled = false; }
        else location.reload();
      } catch (e) {
        if (msg) msg.textContent = String(e.message || e);
        if (button) button.disabled = false;
      }
    });
  }

  // Language and sign-out.
  for (const b of $$("button[data-lang]")) {
    b.addEventListener("click", async () => {
      try { await api("PUT", "/api/v1/me/lang", { lang: b.dataset.lang }); location.reload(); } catch (e) { alert(e.message); }
    });
  }
  const out = $("#signout");
  if (out) out.addEventListener("click", async () => { try { await api("POST", "/api/v1/logout", {}); } finally { location.href = "/login"; } });

  // Widths from data (the CSP allows no inline styles).
  for (const s of $$("[data-w]")) s.style.width = s.dataset.w + "%";

  // Countdowns.
  function tick() {
    const now = Date.now();
    for (const c of $$(".countdown[data-due]")) {
      const left = Date.parse(c.dataset.due) - now;
      if (left <= 0) { c.textContent = c.dataset.late; c.classList.add("late"); continue; }
      const m = Math.floor(left / 60000), s = Math.floor(left / 1000) % 60;
      c.textContent = c.dataset.left + " " + Math.floor(m / 60) + ":" + String(m % 60).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    }
  }
  if ($(".countdown")) { tick(); setInterval(tick, 1000); }

  // The dashboard is live: new items are counted from the stream, and "needs me" is re-read
  // every 10 s.
  const counter = $("#live-count");
  const needs = $('[data-live="needs"]');
  if (counter && needs) {
    let n = 0;
    try {
      const es = new EventSource("/api/v1/stream");
      es.addEventListener("item", () => { n++; counter.textContent = counter.dataset.template.replace("{n}", n); });
    } catch (_) { /* no live stream */ }
    async function refresh() {
      try {
        const r = await fetch(location.pathname, { credentials: "same-origin" });
        if (!r.ok) return;
        const doc = new DOMParser().parseFromString(await r.text(), "text/html");
        const fresh = doc.querySelector('[data-live="needs"]');
        if (fresh) {
          const keep = $("#live-count", needs).textContent;
          needs.replaceChildren(...Array.from(fresh.childNodes));
          const c = $("#live-count", needs);
          if (c) c.textContent = keep;
          for (const s of $$("[data-w]", needs)) s.style.width = s.dataset.w + "%";
          tick();
        }
        const badge = doc.querySelector("#unread");
        const mine = $("#unread");
        if (badge && mine) mine.textContent = badge.textContent;
        else if (badge && !mine) { const a = $('a[href="/inbox"]'); if (a) a.appendChild(document.importNode(badge, true)); }
      } catch (_) { /* try again later */ }
    }
    setInterval(refresh, 10000);
  }
})();
