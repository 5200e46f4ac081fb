// The workspace in a real headless Chromium against `tidewatch demo` at its defaults (alerting
// on, a demo rota, a case in progress), one flow per role, each step asserting what the page
// shows:
// - the duty officer, at phone size (390×844): signs in, sees an alert and a notification arrive
//   within 60 s, acknowledges the alert, opens a case from it, switches to English;
// - the analyst: files the first report, grades, classifies (the checklist starts), adds an item
//   from search as evidence, drafts a response and submits it;
// - the unit lead approves it, the approver returns it with a comment, the analyst edits it
//   (version 2 with its diff), the lead and then the approver approve version 2; the lead and the
//   approver approve the demo case's response;
// - the admin: a malformed topic rule shows its error at its column, a valid one its backtest
//   chart and samples, saved as version 2; a source is test-fetched (a local feed) and saved; an
//   override is added to the rota and shows in the week; a test notification goes to a person's
//   channel; an account is created and disabled; retention is set; the audit chain verifies.
// Every page is screenshotted in Chinese and English (into $TIDEWATCH_UI_SHOTS, default
// target/ui-screenshots), checked with axe-core (no serious or critical violation), for raw
// catalogue keys, and the duty officer's pages for horizontal scrolling at 390 px.
//
// Usage: node workspace.mjs PATH/TO/tidewatch

import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:http";
import { checks, launch, startDemo } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.argv[2];
if (!bin) throw new Error("usage: node workspace.mjs PATH/TO/tidewatch");
const shots = process.env.TIDEWATCH_UI_SHOTS || join(here, "..", "..", "target", "ui-screenshots");
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");
const { check, fail, finish } = checks();
let demo = null;
const RAW_KEY = /\b(role|directory|accounts|settings|app|nav|login|dash|alerts|alert_state|severity|cases|case_state|grade|classification|case|response_state|claim_status|inbox|search|story|topics|rota|audit|sources|timeline)\.[A-Za-z_]+\b/;

async function audit(page, name, phone) {
  // (Code, such as an audit action's name, is not interface text.)
  const text = await page.evaluate("(() => { const b = document.body.cloneNode(true); for (const c of b.querySelectorAll('code, pre.rule')) c.remove(); return b.innerText; })()");
  const raw = text.match(RAW_KEY);
  check(!raw, `${name}: no raw catalogue key on the page${raw ? " (" + raw[0] + ")" : ""}`);
  const result = await page.evaluate(axeSource + "\n;axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, n: v.nodes.length, target: v.nodes[0] && v.nodes[0].target.join(' ') })))");
  const bad = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `${name}: axe finds no serious or critical violation` + (bad.length ? " " + JSON.stringify(bad) : ` (${result.length} minor)`));
  if (phone) {
    const [sw, cw] = await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]");
    check(sw <= cw, `${name}: no horizontal scrolling at 390 px (${sw} ≤ ${cw})`);
  }
}

// Clicks a button whose form acts through the API and waits for the page it leads to (a reload
// or the page named by data-then).
async function act(page, button) {
  const form = button.locator("xpath=ancestor::form[1]");
  const nav = page.waitForNavigation({ timeout: 15000 }).then(() => null);
  nav.catch(() => {});
  await button.click();
  const refused = form.locator(".msg", { hasText: /\S/ }).waitFor({ timeout: 15000 }).then(() => form.locator(".msg").textContent());
  refused.catch(() => {});
  const r = await Promise.race([nav, refused]);
  if (r) throw new Error("the page refused the act: " + r);
}

async function signIn(page, base, user, password) {
  await page.goto(base + "/");
  await page.waitForSelector("#login");
  await page.fill("#login input[name=username]", user);
  await page.fill("#login input[name=password]", password);
  await page.click("#login button[type=submit]");
  await page.waitForURL(base + "/");
}

try {
  demo = await startDemo(bin, []);
  const base = demo.base;
  const buf = demo.output();
  const started = Date.now();
  const pw = (name) => (buf.match(new RegExp("demo account " + name + " (\\S+)")) || [])[1];
  check(pw("duty") && pw("approver"), "the demo printed its accounts");
  check(/A case in progress: #1/.test(buf), "the demo set up a case in progress");
  const browser = await launch();
  try {
    // The duty officer, on a phone.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy/.test(m.text())) errors.push(m.text()); });

    await page.goto(base + "/alerts");
    check(page.url().startsWith(base + "/login"), "a page asked for without a session goes to the sign-in page");
    await page.screenshot({ path: join(shots, "login.png"), fullPage: true });
    await audit(page, "sign-in", true);
    await page.fill("#login input[name=username]", "duty");
    await page.fill("#login input[name=password]", "not-the-password");
    await page.click("#login button[type=submit]");
    await page.locator("#login .msg", { hasText: /\S/ }).waitFor();
    const refusal = await page.textContent("#login .msg");
    check(refusal.includes("凭据") && refusal.includes("credentials"), "a wrong password is refused in both languages: " + refusal);
    await signIn(page, base, "duty", pw("duty"));
    check((await page.textContent("h1")) === "工作台", "signed in, the duty officer sees the dashboard (in Chinese)");

    // Within 60 s of the start a burst or a risky hit becomes an alert and a notification.
    let alerts = 0;
    while (Date.now() - started < 60000) {
      alerts = await page.locator(".needs .alert-row").count();
      if (alerts > 0) break;
      await page.waitForTimeout(2000);
      await page.reload();
    }
    check(alerts > 0, `an alert reaches the duty officer's dashboard ${((Date.now() - started) / 1000).toFixed(0)} s after the start (${alerts})`);
    const unread = await page.locator("#unread").textContent().catch(() => "0");
    check(Number(unread) > 0, "the inbox shows unread notifications: " + unread);
    check((await page.locator(".duty").first().innerText()).includes("duty"), "the dashboard shows who is on duty now");
    check(await page.locator("svg.chart rect.bar").count() > 24, "the volume chart has hourly bars");
    await page.screenshot({ path: join(shots, "dashboard-zh.png"), fullPage: true });
    await audit(page, "dashboard (zh)", true);

    // The inbox holds the notification.
    await page.goto(base + "/inbox");
    check(await page.locator(".inbox li.unread").count() > 0, "the inbox lists the new notifications");
    await page.screenshot({ path: join(shots, "inbox-zh.png"), fullPage: true });
    await audit(page, "inbox (zh)", true);

    // Acknowledge the first firing alert.
    await page.goto(base + "/alerts?state=firing");
    const first = page.locator("li.alert").first();
    const alertId = (await first.getAttribute("id")).replace("alert-", "");
    await page.screenshot({ path: join(shots, "alerts-zh.png"), fullPage: true });
    await audit(page, "alerts (zh)", true);
    await act(page, first.locator("form[data-api$='/acknowledge'] button"));
    await page.waitForLoadState("load");
    await page.locator(`#alert-${alertId}`).waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
    check(await page.locator(`#alert-${alertId}`).count() === 0, `alert ${alertId} leaves the firing tab once acknowledged`);
    await page.goto(base + "/alerts?state=acknowledged");
    const acked = page.locator(`#alert-${alertId}`);
    check(await acked.count() === 1 && (await acked.innerText()).includes("已确认"), `alert ${alertId} is in the acknowledged tab, marked 已确认`);

    // Open a case from it: the case workspace opens on the new case.
    await act(page, acked.locator("form[data-api='/api/v1/cases'] button"));
    await page.waitForURL(/\/cases\/\d+$/);
    const caseId = page.url().match(/\/cases\/(\d+)$/)[1];
    check((await page.textContent("h1")).startsWith(`事件 #${caseId}`), `a case (#${caseId}) opens from the alert: ` + (await page.textContent("h1")));
    check((await page.locator("section").first().innerText()).includes(`告警 #${alertId}`), "the case names the alert it came from");
    await page.screenshot({ path: join(shots, "case-new-zh.png"), fullPage: true });
    await audit(page, "new case (zh)", true);
    await page.goto(base + "/cases");
    check(await page.locator(`a[href='/cases/${caseId}']`).count() === 1, "the cases list shows the new case");
    await page.screenshot({ path: join(shots, "cases-zh.png"), fullPage: true });
    await audit(page, "cases (zh)", true);
    await page.goto(base + "/cases/1");
    check((await page.innerText("#resp-h + *, .response")).includes("审批中"), "the demo case's response waits for approval (审批中)");
    check(await page.locator(".countdown").count() > 0, "the demo case's checklist counts down its deadlines");
    await page.screenshot({ path: join(shots, "case-zh.png"), fullPage: true });
    await audit(page, "case (zh)", true);

    // Switch to English: remembered with the account.
    await page.click("button[data-lang=en]");
    await page.waitForLoadState("load");
    await page.locator("html[lang=en]").waitFor();
    check((await page.textContent("h1")).startsWith("Case #1"), "the language switch shows the page in English");
    for (const [path, name] of [["/", "dashboard"], ["/alerts?state=acknowledged", "alerts"], ["/cases", "cases"], ["/cases/1", "case"], ["/inbox", "inbox"]]) {
      await page.goto(base + path);
      check(await page.getAttribute("html", "lang") === "en", `${name} is in English after the switch`);
      await page.screenshot({ path: join(shots, `${name}-en.png`), fullPage: true });
      await audit(page, `${name} (en)`, true);
    }
    check((await page.textContent("nav[aria-label=Main]")).includes("Dashboard"), "the navigation is in English");
    check(errors.length === 0, "no script errors or CSP violations: " + errors.join("; "));
    await phone.close();

    // The analyst, at a desk, works the case the duty officer opened: grades, classifies, adds
    // evidence from search, drafts a response and submits it.
    const desk0 = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const an = await desk0.newPage();
    an.on("pageerror", (e) => errors.push(String(e)));
    await signIn(an, base, "analyst", pw("analyst"));
    await an.goto(base + `/cases/${caseId}`);
    check((await an.locator("section:has(#as-h)").innerText()).includes("先提交首报"), "analyst: a new case asks for the first report before grading");
    await an.click("section:has(#rep-h) details > summary");
    await an.fill("form[data-api$='/reports'] textarea[name=development]", "第三食堂多名学生就餐后呕吐、腹泻，已送校医院。");
    await an.fill("form[data-api$='/reports'] input[name=place]", "北苑第三食堂");
    await act(an, an.locator("form[data-api$='/reports'] button[type=submit]"));
    await an.locator("article.report").first().waitFor({ timeout: 10000 }).catch(() => {});
    check((await an.locator("article.report h3").first().innerText()).startsWith("首报"), "analyst: the first report is filed");
    await an.selectOption("form[data-api$='/assessment'] select[name=grade]", "II");
    await an.fill("form[data-api$='/assessment'] textarea[name=assessment]", "多名学生就医，媒体已转载，影响较大。");
    await act(an, an.locator("form[data-api$='/assessment'] button[type=submit]"));
    await an.locator("section:has(#as-h) > p > strong", { hasText: "Ⅱ级" }).first().waitFor({ timeout: 10000 }).catch(() => {});
    check(await an.locator("section:has(#as-h) > p > strong", { hasText: "Ⅱ级（重大）" }).count() === 1, "analyst: the case is graded II");
    await an.selectOption("form[data-api$='/classification'] select[name=classification]", "inquiry");
    await act(an, an.locator("form[data-api$='/classification'] button[type=submit]"));
    await an.locator("ul.tasks li").first().waitFor({ timeout: 10000 }).catch(() => {});
    const tasks = await an.locator("ul.tasks li").count();
    check(tasks > 0, `analyst: classifying starts the playbook's checklist (${tasks} tasks)`);
    await an.goto(base + "/search?q=" + encodeURIComponent("食堂 呕吐"));
    const hit = an.locator("li.hit").first();
    const itemId = (await hit.getAttribute("id")).replace("item-", "");
    check(await an.locator("li.hit .snippet b").count() > 0, "analyst: search hits are highlighted");
    await an.goto(base + "/search?q=" + encodeURIComponent("食堂") + "&sentiment=negative");
    const sentis = await an.locator("li.hit .senti").allTextContents();
    check(sentis.length > 0 && sentis.every((x) => x === "负面"), `analyst: the sentiment filter keeps negative hits only (${sentis.length})`);
    await an.goto(base + "/search?q=" + encodeURIComponent("食堂 呕吐"));
    await an.screenshot({ path: join(shots, "search-zh.png"), fullPage: true });
    await audit(an, "search (zh)", false);
    await hit.locator("select[name=case]").selectOption(caseId);
    await act(an, hit.locator("form button[type=submit]"));
    await an.waitForLoadState("load");
    await an.goto(base + `/cases/${caseId}`);
    check((await an.locator("section:has(#ev-h)").innerText()).includes("#" + itemId), `analyst: item ${itemId} added from search is the case's evidence`);
    await an.click("section:has(#resp-h) details > summary");
    await an.fill("form[data-api$='/responses'] input[name=title]", "关于第三食堂学生就医情况的通报");
    await an.fill("form[data-api$='/responses'] textarea[name=body]", "我校已暂停第三食堂营业并送检留样，就医学生均已好转。");
    await act(an, an.locator("form[data-api$='/responses'] button[type=submit]"));
    await an.locator(".response .state").first().waitFor();
    check((await an.locator(".response .state").first().textContent()) === "草稿", "analyst: the drafted response shows as 草稿");
    await act(an, an.locator(".response form[data-api$='/submit'] button"));
    await an.locator(".response .state", { hasText: "审批中" }).first().waitFor({ timeout: 10000 }).catch(() => {});
    check((await an.locator(".response .state").first().textContent()) === "审批中", "analyst: submitted, it is 审批中");
    await an.screenshot({ path: join(shots, "case-worked-zh.png"), fullPage: true });
    await audit(an, "worked case (zh)", false);

    // The chain: the unit lead approves version 1 (first step); the approver (second step)
    // returns it with a comment; the analyst edits it (version 2, the diff shown) and submits it
    // again; the lead approves version 2, and the approver approves the new version.
    const ld = await desk0.newPage();
    const decide = async (who, page, verb, comment) => {
      await desk0.clearCookies();
      await signIn(page, base, who, pw(who));
      await page.goto(base + `/cases/${caseId}`);
      await page.fill(`.response form[data-api$='/${verb}'] input[name=comment]`, comment);
      await act(page, page.locator(`.response form[data-api$='/${verb}'] button`));
    };
    await decide("lead", ld, "approve", "同意。");
    check((await ld.locator(".response .meta").first().innerText()).includes("分管院领导审核"), "lead: approved, the response moves to the approver's step");
    const apv = await desk0.newPage();
    await decide("approver", apv, "return", "请写明送检结果何时公布。");
    check((await apv.locator(".response .state").first().textContent()) === "草稿" && (await apv.locator(".response").first().innerText()).includes("请写明送检结果何时公布"),
      "approver: returned with a comment, the response is a draft again and shows the comment");
    await desk0.clearCookies();
    await signIn(an, base, "analyst", pw("analyst"));
    await an.goto(base + `/cases/${caseId}`);
    await an.click(".response details.more > summary");
    await an.fill(".response form[data-api$='/versions'] textarea[name=body]", "我校已暂停第三食堂营业并送检留样，检测结果将于两日内公布，就医学生均已好转。");
    await act(an, an.locator(".response form[data-api$='/versions'] button[type=submit]"));
    check(await an.locator(".response .diff ins").count() > 0, "analyst: version 2 shows its diff from version 1");
    await act(an, an.locator(".response form[data-api$='/submit'] button"));
    await decide("lead", ld, "approve", "同意。");
    check((await ld.locator(".response .meta").first().innerText()).includes("第 2 稿"), "lead: version 2 approved at the first step");
    await decide("approver", apv, "approve", "同意发布。");
    check(await apv.locator(".response form[data-api$='/approve']").count() === 0, "approver: no approve button once their step is done");
    const decisions = await apv.locator(".response ul.timeline").first().innerText();
    check(/第 1 稿.*分管院领导审核.*退回/.test(decisions) && /第 2 稿.*分管院领导审核.*批准/.test(decisions),
      "approver: returned version 1, approved version 2: " + decisions.replace(/\s+/g, " "));
    await apv.screenshot({ path: join(shots, "case-approved-zh.png"), fullPage: true });

    // The analyst registers a false claim, then moves the case to monitoring, closes it and
    // writes the review; the lead approves the review.
    await desk0.clearCookies();
    await signIn(an, base, "analyst", pw("analyst"));
    await an.goto(base + `/cases/${caseId}`);
    await an.click("section:has(#cl-h) details > summary");
    await an.fill("form[data-api$='/claims'] textarea[name=text]", "第三食堂将永久关闭");
    await an.fill("form[data-api$='/claims'] input[name=key_terms]", "第三食堂, 关闭");
    await act(an, an.locator("form[data-api$='/claims'] button[type=submit]"));
    const claim = an.locator("[id^=claim-]").first();
    check((await claim.innerText()).includes("第三食堂将永久关闭") && (await claim.innerText()).includes("待核实"), "analyst: the claim is registered, unverified");
    await claim.locator("select[name=status]").selectOption("false");
    await claim.locator("input[name=evidence]").fill("后勤集团：整顿后重新开放");
    await act(an, claim.locator("button[type=submit]"));
    check((await an.locator("[id^=claim-]").first().innerText()).includes("不实"), "analyst: the claim is marked false");
    check(await an.locator("ul.tasks form[data-api$='/done']").count() === 0, "analyst: the unit lead's tasks offer the analyst no done button");
    // The unit lead works the checklist: each open task done with a note (the next ones open as
    // they become due).
    await desk0.clearCookies();
    await signIn(ld, base, "lead", pw("lead"));
    await ld.goto(base + `/cases/${caseId}`);
    let done = 0;
    for (let i = 0; i < 8; i++) {
      const form = ld.locator("ul.tasks form[data-api$='/done']").first();
      if (await form.count() === 0) break;
      await form.locator("input[name=note]").fill("已办理");
      await act(ld, form.locator("button[type=submit]"));
      done++;
    }
    check(done > 0 && await ld.locator("ul.tasks li.open").count() === 0, `lead: the checklist is worked through (${done} tasks done)`);
    await desk0.clearCookies();
    await signIn(an, base, "analyst", pw("analyst"));
    await an.goto(base + `/cases/${caseId}`);
    await act(an, an.locator("form[data-api$='/monitor'] button"));
    check((await an.locator("section:has(#sum-h) .state").first().textContent()) === "观察中", "analyst: the case is monitoring");
    await an.fill("form[data-api$='/close'] textarea[name=summary]", "已停业整顿、送检，学生均康复。");
    await act(an, an.locator("form[data-api$='/close'] button[type=submit]"));
    const closedState = await an.locator("section:has(#sum-h) .state").first().textContent();
    check(closedState === "已办结", "analyst: the case is closed: " + closedState + " " + (await an.locator("section:has(#close-h) .msg").allTextContents()).join(" "));
    if (closedState === "已办结") {
      await an.fill("form[data-api$='/review'] textarea[name=worked]", "两小时内首报，当日回应。");
      await an.fill("form[data-api$='/review'] textarea[name=lessons]", "食堂送检结果应更早公布。");
      await an.fill("form[data-api$='/review'] textarea[name=actions]", "送检结果 24 小时内公布\n每周抽检一次");
      await act(an, an.locator("form[data-api$='/review'] button[type=submit]"));
      check((await an.locator("section:has(#close-h) article").innerText()).includes("食堂送检结果应更早公布"), "analyst: the review is written");
      await desk0.clearCookies();
      await signIn(ld, base, "lead", pw("lead"));
      await ld.goto(base + `/cases/${caseId}`);
      await act(ld, ld.locator("form[data-api$='/review/approve'] button"));
      check((await ld.locator("section:has(#sum-h) .state").first().textContent()) === "已复盘", "lead: the review is approved (已复盘)");
      await ld.screenshot({ path: join(shots, "case-reviewed-zh.png"), fullPage: true });
      await audit(ld, "reviewed case (zh)", false);
    }
    await desk0.close();

    // The approval chain at a desk: the unit lead (first step) approves the demo case's
    // response; then it waits for the approver (second step), who sees it and approves.
    const desk = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    for (const [who, next] of [["lead", "审批中"], ["approver", "审批中"]]) {
      const ap = await desk.newPage();
      await signIn(ap, base, who, pw(who));
      const waiting = await ap.locator(".needs").innerText();
      check(waiting.includes("待我审批") && waiting.includes("热水"), `${who}: the dashboard lists the response waiting for their approval`);
      await ap.screenshot({ path: join(shots, `dashboard-${who}-zh.png`), fullPage: true });
      await audit(ap, `${who} dashboard (zh)`, false);
      await ap.goto(base + "/cases/1");
      const before = await ap.locator(".response .meta").first().innerText();
      await ap.fill(".response form[data-api$='/approve'] input[name=comment]", "同意 " + who);
      await act(ap, ap.locator(".response form[data-api$='/approve'] button"));
      await ap.waitForLoadState("load");
      await ap.locator(".response form[data-api$='/approve']").waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
      const after = await ap.locator(".response .meta").first().innerText();
      check(before !== after && (await ap.locator(".response .state").first().textContent()) === next,
        `${who} approves: the step moves on (${before.split("·").pop().trim()} → ${after.split("·").pop().trim()})`);
      check(await ap.locator(".response form[data-api$='/approve']").count() === 0, `${who}: no approve button once their step is done`);
      const tl = await ap.locator(".timeline").last().innerText();
      check(tl.includes("审批通过"), `${who}: the timeline records the approval`);
      await ap.goto(base + "/login");
      await ap.evaluate("fetch('/api/v1/logout', { method: 'POST', headers: { 'x-csrf-token': document.querySelector('meta[name=csrf-token]') ? document.querySelector('meta[name=csrf-token]').content : '' } })").catch(() => {});
      await desk.clearCookies();
      await ap.close();
    }
    await desk.close();

    // The admin: a topic rule with an error (shown at its column), then a valid one with its
    // backtest chart, saved as a new version; a source added after a test fetch; an override in
    // the rota; the audit chain verified. Then every admin page in English.
    const feed = await new Promise((resolve) => {
      const srv = createServer((req, res) => {
        res.writeHead(200, { "content-type": "application/rss+xml; charset=utf-8" });
        res.end(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>澜江日报</title>
          <item><title>澜江理工第三食堂今起停业整顿</title><link>https://news.example/1</link><pubDate>Mon, 12 Oct 2026 08:00:00 +0800</pubDate></item>
          <item><title>校医院：就医学生均已好转</title><link>https://news.example/2</link><pubDate>Mon, 12 Oct 2026 09:00:00 +0800</pubDate></item>
          <item><title>后勤集团公布送检安排</title><link>https://news.example/3</link><pubDate>Mon, 12 Oct 2026 10:00:00 +0800</pubDate></item>
          </channel></rss>`);
      });
      srv.listen(0, "127.0.0.1", () => resolve(srv));
    });
    const adminCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const ad = await adminCtx.newPage();
    ad.on("pageerror", (e) => errors.push(String(e)));
    await signIn(ad, base, "admin", pw("admin"));
    await ad.goto(base + "/topics/food-safety");
    await ad.fill("textarea#rule", "食堂 AND (腹泻 OR");
    await ad.click("form.editor button[type=submit]");
    await ad.waitForSelector("#diagnostics .err");
    const diag = await ad.textContent("#diagnostics");
    check(diag.includes("第 14 列"), "admin: a malformed rule shows its error at column 14: " + diag.replace(/\s+/g, " ").slice(0, 120));
    const caret = await ad.textContent("#diagnostics pre.caret");
    check(caret.split("\n")[1] === " ".repeat(13) + "^", "admin: the caret stands under column 14");
    await ad.screenshot({ path: join(shots, "topic-error-zh.png"), fullPage: true });
    await audit(ad, "topic with an error (zh)", false);
    await ad.fill("textarea#rule", '食堂 AND (呕吐 OR 腹泻 OR "food poisoning")');
    await ad.click("form.editor button[type=submit]");
    await ad.waitForSelector("#backtest svg.chart");
    const bars = await ad.locator("#backtest svg.chart rect.bar:not([height='0.0'])").count();
    const marks = await ad.locator("#backtest mark").count();
    const summary = await ad.textContent("#backtest h3");
    check(bars > 0 && marks > 0 && !/命中 0 条/.test(summary), `admin: the backtest shows a chart of daily hits (${bars} days with hits) and samples with marks (${marks}): ${summary}`);
    await ad.screenshot({ path: join(shots, "topic-backtest-zh.png"), fullPage: true });
    await audit(ad, "topic backtest (zh)", false);
    await act(ad, ad.locator("form[data-method=PUT] button[type=submit]"));
    await ad.waitForLoadState("load");
    await ad.goto(base + "/topics/food-safety");
    check((await ad.textContent("#cur-h")).includes("v2"), "admin: the rule is saved as version 2");
    check(await ad.locator("section:has(#ver-h) .diff ins").count() > 0 && await ad.locator("section:has(#ver-h) .diff del").count() > 0,
      "admin: version 2 shows its word diff against version 1");

    await ad.goto(base + "/topics");
    check(await ad.locator("a[href='/topics/food-safety']").count() === 1, "admin: the topics list links each topic");
    await ad.screenshot({ path: join(shots, "topics-zh.png"), fullPage: true });
    await audit(ad, "topics (zh)", false);
    await ad.goto(base + "/sources");
    const feedUrl = `http://127.0.0.1:${feed.address().port}/feed.xml`;
    await ad.fill("form[data-api-template] input[name=id]", "lanjiang-daily");
    await ad.fill("form[data-api-template] input[name=url]", feedUrl);
    await ad.fill("form[data-api-template] input[name=allow_addresses]", "127.0.0.1/32");
    await ad.click("button[data-test]");
    await ad.locator("output.result", { hasText: /抓取|fail/ }).waitFor({ timeout: 15000 });
    const tested = await ad.textContent("output.result");
    check(tested.startsWith("抓取成功 · 3") && tested.includes("第三食堂"), "admin: the test fetch reads the feed's 3 entries: " + tested.replace(/\n/g, " | "));
    await ad.click("form[data-api-template] button[type=submit]");
    await ad.locator("form[data-api-template] .msg", { hasText: "已保存" }).waitFor({ timeout: 10000 });
    await ad.goto(base + "/sources");
    check(await ad.locator("#source-lanjiang-daily").count() === 1, "admin: the saved source is listed with its health");
    await ad.screenshot({ path: join(shots, "sources-zh.png"), fullPage: true });
    await audit(ad, "sources (zh)", false);

    await ad.goto(base + "/rota");
    const tomorrow = new Date(Date.now() + 86400e3 + 8 * 3600e3).toISOString().slice(0, 10);
    await ad.click("section.rota details > summary");
    await ad.fill("form[data-api='/api/v1/oncall/overrides'] input[name=person]", "analyst");
    await ad.fill("form[data-api='/api/v1/oncall/overrides'] input[name=from]", tomorrow + "T09:00");
    await ad.fill("form[data-api='/api/v1/oncall/overrides'] input[name=to]", tomorrow + "T12:00");
    await ad.fill("form[data-api='/api/v1/oncall/overrides'] input[name=note]", "调班");
    await act(ad, ad.locator("form[data-api='/api/v1/oncall/overrides'] button[type=submit]"));
    await ad.locator(".shift.override").first().waitFor({ timeout: 10000 }).catch(() => {});
    const ov = await ad.locator(".shift.override").first().innerText().catch(() => "");
    check(ov.includes("09:00–12:00") && ov.includes("analyst"), "admin: the override shows in the week: " + ov);
    await ad.goto(base + "/rota?span=month");
    check(await ad.locator("table.week tbody tr").count() === 31, "admin: the month view has 31 days");
    await ad.goto(base + `/rota?at=${tomorrow}T10:00`);
    check((await ad.textContent("#on-duty-at")).includes("analyst"), "admin: at 10:00 tomorrow the override's person is on duty");
    await ad.screenshot({ path: join(shots, "rota-zh.png"), fullPage: true });
    await audit(ad, "rota (zh)", false);

    await ad.goto(base + "/audit");
    await ad.click("form.filters button[name=verify]");
    await ad.waitForSelector("#verified");
    check((await ad.textContent("#verified")).includes("哈希链完整"), "admin: the audit chain verifies: " + (await ad.textContent("#verified")));
    await ad.screenshot({ path: join(shots, "audit-zh.png"), fullPage: true });
    await audit(ad, "audit (zh)", false);
    // Units and people: a test notification to the duty officer's channel (the in-app inbox).
    await ad.goto(base + "/directory");
    await ad.click("#person-duty form button[type=submit]");
    await ad.locator("#person-duty .msg", { hasText: "测试通知已排队" }).waitFor({ timeout: 10000 });
    check(true, "admin: a test notification is queued to the duty officer's channel");
    await ad.fill("form[data-api-template='/api/v1/people/{id}'] input[name=id]", "zhou");
    await ad.fill("form[data-api-template='/api/v1/people/{id}'] input[name=name]", "周老师");
    await act(ad, ad.locator("form[data-api-template='/api/v1/people/{id}'] button[type=submit]"));
    check((await ad.locator("#person-zhou").innerText()).includes("周老师"), "admin: a person is added");
    await ad.screenshot({ path: join(shots, "directory-zh.png"), fullPage: true });
    await audit(ad, "directory (zh)", false);
    // Accounts: create one, then disable it.
    await ad.goto(base + "/accounts");
    await ad.fill("form[data-api='/api/v1/accounts'] input[name=username]", "observer");
    await ad.fill("form[data-api='/api/v1/accounts'] input[name=password]", "a-long-enough-password-42");
    await ad.selectOption("form[data-api='/api/v1/accounts'] select[name=role]", "analyst");
    await act(ad, ad.locator("form[data-api='/api/v1/accounts'] button[type=submit]"));
    check((await ad.locator("#account-observer").innerText()).includes("研判员"), "admin: the new account is listed with its role");
    await act(ad, ad.locator("#account-observer form button[type=submit]"));
    check((await ad.locator("#account-observer").innerText()).includes("已停用"), "admin: the account is disabled");
    await ad.screenshot({ path: join(shots, "accounts-zh.png"), fullPage: true });
    await audit(ad, "accounts (zh)", false);
    // Settings: the retention period.
    await ad.goto(base + "/settings");
    await ad.fill("input[name=retention_days]", "200");
    await act(ad, ad.locator("form[data-api='/api/v1/settings'] button[type=submit]"));
    check((await ad.textContent("#ret-h + p")).includes("200"), "admin: retention is set to 200 days");
    await ad.screenshot({ path: join(shots, "settings-zh.png"), fullPage: true });
    await audit(ad, "settings (zh)", false);
    await ad.goto(base + "/monitor");
    await ad.waitForSelector("#app", { state: "visible" });
    await ad.screenshot({ path: join(shots, "monitor.png"), fullPage: true });
    await audit(ad, "live monitor (both languages on one page)", false);
    const storyHref = await (async () => { await ad.goto(base + "/"); return ad.locator("a[href^='/stories/']").first().getAttribute("href"); })();
    await ad.goto(base + storyHref);
    check(await ad.locator("svg.chart rect.bar").count() > 0 && (await ad.textContent("h1")).startsWith("事件脉络 #"), "the story page shows its volume chart");
    await ad.screenshot({ path: join(shots, "story-zh.png"), fullPage: true });
    await audit(ad, "story (zh)", false);
    await ad.click("button[data-lang=en]");
    await ad.locator("html[lang=en]").waitFor();
    for (const [path, name] of [["/search?q=canteen", "search"], [storyHref, "story"], ["/topics/food-safety", "topic"], ["/topics", "topics"], ["/sources", "sources"], ["/rota", "rota"], ["/audit?verify=1", "audit"], ["/directory", "directory"], ["/accounts", "accounts"], ["/settings", "settings"]]) {
      await ad.goto(base + path);
      check(await ad.getAttribute("html", "lang") === "en", `${name} is in English`);
      await ad.screenshot({ path: join(shots, `${name}-en.png`), fullPage: true });
      await audit(ad, `${name} (en)`, false);
    }
    await adminCtx.close();
    feed.close();
    check(errors.length === 0, "no script errors in the desk flows: " + errors.join("; "));
  } finally {
    await browser.close();
  }
} catch (e) {
  fail(e);
} finally {
  if (demo) await demo.stop();
}
finish("workspace", "all workspace checks passed; screenshots in " + shots);
