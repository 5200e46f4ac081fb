"use strict";
// Unsafe requests carry the session's CSRF token (the server refuses them without it).
let csrfToken = "";
const plainFetch = window.fetch.bind(window);
window.fetch = (url, opts = {}) => {
  const method = (opts.method || "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD" && csrfToken) opts.headers = Object.assign({}, opts.headers || {}, { "x-csrf-token": csrfToken });
  return plainFetch(url, opts);
};
const $ = (id) => document.getElementById(id);
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
function fmtTime(t) { try { return new Date(t).toLocaleString(); } catch (_) { return t; } }
function itemNode(it, highlighted) {
  const d = el("div", "item");
  const t = el("div", "title");
  // Highlighted fields come from the server already HTML-escaped, with <b> marks only.
  if (highlighted && it.title_highlighted != null) t.innerHTML = it.title_highlighted; else t.textContent = it.title || "";
  if (t.textContent) d.appendChild(t);
  const s = el("div", "snippet");
  if (highlighted && it.snippet != null) s.innerHTML = it.snippet; else s.textContent = (it.text || "").slice(0, 240);
  d.appendChild(s);
  const m = el("div", "meta");
  m.appendChild(el("span", null, it.source));
  m.appendChild(el("span", null, fmtTime(it.published_at)));
  m.appendChild(el("span", null, it.lang));
  for (const t of (it.topics || [])) { const b = el("span", "topic" + (topicSeverity[t] ? " sev-" + topicSeverity[t] : ""), t); m.appendChild(b); }
  if (it.repost_count > 0) m.appendChild(el("span", "badge", "转发/重复 " + it.repost_count));
  if (it.url && /^https?:\/\//.test(it.url)) { const a = el("a", null, "原文 link"); a.href = it.url; a.rel = "noopener noreferrer"; a.target = "_blank"; m.appendChild(a); }
  d.appendChild(m);
  return d;
}
async function getJSON(url) { const r = await fetch(url); if (r.status === 401) { location.reload(); throw new Error("signed out"); } const j = await r.json(); if (!r.ok) throw new Error((j.error && (j.error.message_zh + " " + j.error.message + " " + j.error.detail)) || r.status); return j; }
$("search").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const params = new URLSearchParams();
  for (const [k, v] of f.entries()) if (v) params.set(k, v);
  params.set("limit", "30");
  const box = $("results");
  try {
    const res = await getJSON("/api/v1/search?" + params);
    box.className = ""; box.replaceChildren(el("div", "meta", "共 " + res.total + " 条 · " + res.total + " hits"));
    for (const h of res.hits) box.appendChild(itemNode(h, true));
  } catch (e) { box.className = "empty"; box.textContent = String(e.message || e); }
});
// Topics: list with 7-day counts, a filter for search, and the rule editor (check and backtest).
const topicSeverity = {};
async function loadTopics() {
  try {
    const ts = await getJSON("/api/v1/topics");
    const table = $("topics"); table.textContent = "";
    const sel = $("topicfilter");
    const chosen = sel.value;
    sel.replaceChildren(new Option("所有专题 any topic", ""));
    if (!ts.length) { const tr = table.insertRow(); tr.insertCell().textContent = "暂无专题 no topics"; }
    for (const t of ts) {
      topicSeverity[t.id] = t.severity;
      sel.appendChild(new Option(t.name + " (" + t.id + ")", t.id));
      const tr = table.insertRow();
      tr.insertCell().appendChild(el("span", "topic sev-" + t.severity, t.id));
      tr.insertCell().textContent = t.name;
      tr.insertCell().textContent = (t.unit || "–") + " · " + t.severity + " · v" + t.version + (t.enabled ? "" : " · 停用 disabled");
      const rc = tr.insertCell(); rc.appendChild(el("code", null, t.rule));
      const cc = tr.insertCell(); cc.textContent = "…";
      getJSON("/api/v1/topics/" + encodeURIComponent(t.id) + "/counts?days=" + $("rule").days.value + untilParam("&"))
        .then((cs) => { const n = cs.reduce((a, c) => a + c.count, 0); cc.textContent = n + " 条 hits"; cc.title = cs.map((c) => c.day.slice(0, 10) + ": " + c.count).join("\n"); })
        .catch(() => { cc.textContent = "?"; });
    }
    sel.value = chosen;
  } catch (_) {}
}
function untilParam(sep) { const u = $("rule").until.value; return u ? sep + "until=" + encodeURIComponent(u) : ""; }
function showDiagnostics(rule, errors, warnings) {
  const box = $("rulemsg"); box.textContent = "";
  for (const d of errors) {
    // The rule with a caret under the column of the error (columns count characters).
    const chars = Array.from(rule.replace(/\n/g, " "));
    const caret = " ".repeat(Math.max(0, (d.column || 1) - 1)) + "^";
    box.appendChild(el("pre", "caret err", chars.join("") + "\n" + caret));
    box.appendChild(el("div", "err", "第 " + d.column + " 列：" + d.message_zh + " / column " + d.column + ": " + d.message));
  }
  for (const d of warnings) box.appendChild(el("div", "warn", "第 " + d.column + " 列：" + d.message_zh + " / column " + d.column + ": " + d.message));
  if (!errors.length && !warnings.length) box.appendChild(el("div", "ok", "规则有效 The rule is valid."));
}
async function checkRule() {
  const rule = $("rule").rule.value;
  const r = await fetch("/api/v1/rules/check", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rule }) });
  const j = await r.json();
  if (!r.ok) { $("rulemsg").replaceChildren(el("div", "err", j.error.message_zh + " " + j.error.message + " " + j.error.detail)); return false; }
  showDiagnostics(rule, j.errors, j.warnings);
  return j.valid;
}
function markedText(text, spans) {
  // Builds nodes, never HTML: the text comes from public sources.
  const frag = document.createDocumentFragment();
  const chars = Array.from(text);
  let at = 0;
  for (const sp of spans.slice().sort((a, b) => a.start - b.start)) {
    if (sp.start < at) continue;
    frag.appendChild(document.createTextNode(chars.slice(at, sp.start).join("")));
    frag.appendChild(el("mark", null, chars.slice(sp.start, sp.end).join("")));
    at = sp.end;
  }
  frag.appendChild(document.createTextNode(chars.slice(at).join("")));
  return frag;
}
$("check").addEventListener("click", () => { checkRule(); });
$("rule").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const body = { rule: f.rule.value, days: Number(f.days.value) || 30, samples: 5 };
  if (f.until.value) body.until = f.until.value;
  const out = $("backtest"); out.textContent = "…";
  const r = await fetch("/api/v1/topics/backtest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) {
    out.textContent = "";
    if (j.error.rule_error) showDiagnostics(f.rule.value, [j.error.rule_error], []);
    else $("rulemsg").replaceChildren(el("div", "err", j.error.message_zh + " " + j.error.message + " " + j.error.detail));
    return;
  }
  showDiagnostics(f.rule.value, [], j.warnings);
  out.replaceChildren(el("div", "meta", j.hits + " / " + j.scanned + " 条命中 items matched, " + j.days.length + " 天 days"));
  const bars = el("div", "bars"); const max = Math.max(1, ...j.days.map((d) => d.count));
  for (const d of j.days) { const b = el("div"); b.style.height = (100 * d.count / max) + "%"; b.title = d.day.slice(0, 10) + ": " + d.count; bars.appendChild(b); }
  out.appendChild(bars);
  for (const s of j.samples) {
    const d = el("div", "item");
    if (s.title) { const t = el("div", "title"); t.appendChild(markedText(s.title, s.spans.filter((x) => x.field === "title"))); d.appendChild(t); }
    const body = el("div", "snippet"); body.appendChild(markedText(s.text, s.spans.filter((x) => x.field === "text"))); d.appendChild(body);
    const m = el("div", "meta"); m.appendChild(el("span", null, s.source)); m.appendChild(el("span", null, fmtTime(s.published_at))); d.appendChild(m);
    out.appendChild(d);
  }
});
let liveCount = 0;
function addLive(it, fresh) {
  const box = $("live");
  if (box.classList.contains("empty")) { box.classList.remove("empty"); box.textContent = ""; }
  const n = itemNode(it, false); if (fresh) n.classList.add("new");
  box.insertBefore(n, box.firstChild);
  while (box.childNodes.length > 100) box.removeChild(box.lastChild);
  if (fresh) { liveCount++; $("livecount").textContent = liveCount; }
}
async function loadNewest() { try { const items = await getJSON("/api/v1/items?limit=30"); $("live").textContent = ""; for (const it of items.reverse()) addLive(it, false); } catch (_) {} }
async function loadGroups() {
  try {
    const gs = await getJSON("/api/v1/groups?limit=20");
    const box = $("groups"); box.className = ""; box.textContent = "";
    if (!gs.length) { box.className = "empty"; box.textContent = "暂无 none yet"; }
    for (const g of gs) box.appendChild(itemNode(g.original, false));
  } catch (_) {}
}
function mixNode(m) {
  const total = m.negative + m.neutral + m.positive || 1;
  const bar = el("span", "mix"); bar.title = "负面 negative " + m.negative + " · 中性 neutral " + m.neutral + " · 正面 positive " + m.positive;
  for (const [cls, n] of [["neg", m.negative], ["neu", m.neutral], ["pos", m.positive]]) { const d = el("span", cls); d.style.width = (100 * n / total) + "%"; bar.appendChild(d); }
  return bar;
}
function sparkNode(volume) {
  const sp = el("span", "spark"); const max = Math.max(1, ...volume.map((v) => v[1]));
  for (const [t, n] of volume.slice(-48)) { const d = el("div"); d.style.height = Math.max(1, 22 * n / max) + "px"; d.title = fmtTime(t) + ": " + n; sp.appendChild(d); }
  return sp;
}
async function loadStories() {
  try {
    const ss = await getJSON("/api/v1/stories?limit=15&order=" + $("storyorder").value);
    const box = $("stories"); box.className = ""; box.textContent = "";
    if (!ss.length) { box.className = "empty"; box.textContent = "暂无 none yet"; }
    for (const s of ss) {
      const d = el("div", "story"); d.dataset.story = s.id;
      d.appendChild(el("div", "title", s.title));
      const m = el("div", "meta");
      m.appendChild(el("span", "badge", "#" + s.id));
      m.appendChild(el("span", null, s.items + " 条 items · " + s.reposts + " 转发 reposts · " + s.source_count + " 来源 sources"));
      m.appendChild(mixNode(s.sentiment)); m.appendChild(sparkNode(s.volume));
      m.appendChild(el("span", null, "首发 first: " + s.first_source + " " + fmtTime(s.first_seen)));
      d.appendChild(m);
      d.appendChild(el("div", "meta", "关键词 keywords: " + s.keywords.join(" · ")));
      d.addEventListener("click", () => showStory(s.id));
      box.appendChild(d);
    }
  } catch (_) {}
}
async function showStory(id) {
  const out = $("storydetail"); out.textContent = "";
  try {
    const d = await getJSON("/api/v1/stories/" + id);
    out.appendChild(el("h2", null, "事件 #" + d.story.id + (d.redirected_from ? "（由 #" + d.redirected_from + " 合并而来 merged）" : "")));
    for (const l of d.lineage) out.appendChild(el("div", "meta", "合并 merged #" + l.absorbed + " → #" + l.survivor + " " + fmtTime(l.at)));
    for (const it of d.items.slice(0, 10)) out.appendChild(itemNode(it, false));
  } catch (e) { out.appendChild(el("div", "err", String(e))); }
}
async function loadBursts() {
  try {
    const bs = await getJSON("/api/v1/bursts?limit=15");
    const box = $("bursts"); box.className = ""; box.textContent = "";
    if (!bs.length) { box.className = "empty"; box.textContent = "暂无 none yet"; }
    for (const b of bs) {
      const x = b.explanation || {};
      const d = el("div", "burst");
      const t = el("div", "title"); t.appendChild(el("span", "sev-" + b.severity, "[" + b.severity + "] ")); t.appendChild(document.createTextNode(b.title)); d.appendChild(t);
      const why = el("div", "why");
      why.appendChild(el("div", null, "观测 observed " + x.observed + " · 期望 expected " + x.expected + " · 得分 score " + x.score + " (" + x.test + ") · 灵敏度 sensitivity " + x.sensitivity + (x.special_period ? " · 特殊时期 " + x.special_period : "")));
      why.appendChild(el("div", null, "时间窗 window: " + fmtTime(x.window_start) + " → " + fmtTime(x.window_end)));
      if (x.top_sources) why.appendChild(el("div", null, "主要来源 top sources: " + x.top_sources.map((p) => p[0] + " (" + p[1] + ")").join(", ")));
      if (x.top_terms) why.appendChild(el("div", null, "高频词 top terms: " + x.top_terms.map((p) => p[0] + " (" + p[1] + ")").join(", ")));
      if (x.story_title) { const a = el("a", null, "事件 story #" + x.story + ": " + x.story_title); a.href = "#"; a.addEventListener("click", (e) => { e.preventDefault(); showStory(x.story); }); why.appendChild(el("div")).appendChild(a); }
      for (const s of (x.samples || []).slice(0, 3)) why.appendChild(el("div", "meta", "· " + s.source + ": " + s.title));
      d.appendChild(why);
      box.appendChild(d);
    }
  } catch (_) {}
}
$("storyorder").addEventListener("change", loadStories);
async function loadStatus() { try { const s = await getJSON("/api/v1/status"); $("status").textContent = "条目 items: " + s.items + " · 已索引 indexed: " + s.indexed; } catch (_) {} }
async function defaultUntil() {
  // Backtests and counts end with the newest stored item's day (the demo's data is in the past).
  try { const [it] = await getJSON("/api/v1/items?limit=1"); if (it) $("rule").until.value = it.published_at.slice(0, 10); } catch (_) {}
}
function start() {
  defaultUntil().then(loadTopics);
  loadNewest(); loadGroups(); loadStatus(); loadStories(); loadBursts();
  setInterval(loadGroups, 5000); setInterval(loadStatus, 2000); setInterval(loadStories, 5000); setInterval(loadBursts, 5000);
  const es = new EventSource("/api/v1/stream");
  es.addEventListener("item", (e) => addLive(JSON.parse(e.data), true));
  es.addEventListener("lagged", () => loadNewest());
}
function signedIn(me) {
  csrfToken = me.csrf_token || "";
  $("login").hidden = true; $("app").hidden = false;
  $("whoami").hidden = false; $("logout").hidden = false; $("status").hidden = false;
  $("whoami").textContent = me.username + " · " + (me.grants || []).map((g) => g.role + (g.unit ? "@" + g.unit : "")).join(", ");
  start();
}
$("loginform").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  $("loginmsg").textContent = "";
  const r = await fetch("/api/v1/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: f.get("username"), password: f.get("password") }) });
  const j = await r.json();
  if (!r.ok) { $("loginmsg").textContent = (j.error && (j.error.message_zh + " " + j.error.message)) || String(r.status); return; }
  signedIn(j);
});
$("logout").addEventListener("click", async () => {
  await fetch("/api/v1/logout", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  location.reload();
});
(async () => {
  const r = await fetch("/api/v1/me");
  if (r.ok) signedIn(await r.json()); else $("login").hidden = false;
})();
