// The workspace in a real headless Chromium against `tidewatch demo` at its defaults (alerting
// on, a demo rota, a case in progress): the duty officer at phone size (390×844) signs in, sees
// an alert arrive on the dashboard, acknowledges it and opens a case from it; the approver
// approves the demo case's response at desktop size. Each step asserts what the page shows.
// Every page is screenshotted in Chinese and English (into $TIDEWATCH_UI_SHOTS, default
// target/ui-screenshots), checked with axe-core (no serious or critical violation), for raw
// catalogue keys, and at phone size for horizontal scrolling.
//
// Usage: node workspace.mjs PATH/TO/tidewatch

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.argv[2];
if (!bin) throw new Error("usage: node workspace.mjs PATH/TO/tidewatch");
const shots = process.env.TIDEWATCH_UI_SHOTS || join(here, "..", "..", "target", "ui-screenshots");
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(join(here, "node_modules", "axe-core", "axe.min.js"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "tidewatch-ws-"));
const server = spawn(bin, ["demo", "--addr", "127.0.0.1:0", "--demo-dir", join(dir, "demo")], { stdio: ["ignore", "pipe", "inherit"] });
let failures = 0;
function check(cond, what) {
  console.log((cond ? "ok   " : "FAIL ") + what);
  if (!cond) failures++;
}
const RAW_KEY = /\b(app|nav|login|dash|alerts|alert_state|severity|cases|case_state|grade|classification|case|response_state|claim_status|inbox)\.[A-Za-z_]+\b/;

async function audit(page, name, phone) {
  const text = await page.innerText("body");
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

async function signIn(page, base, user, password) {
  await page.goto(base + "/");
  await page.waitForSelector("#login");
  await page.fill("#login input[name=username]", user);
  await page.fill("#login input[name=password]", password);
  await page.click("#login button[type=submit]");
  await page.waitForURL(base + "/");
}

try {
  let buf = "";
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the demo did not start in 90 s")), 90000);
    server.stdout.on("data", (d) => {
      buf += d;
      const m = buf.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    server.on("exit", (code) => reject(new Error("the demo exited with " + code)));
  });
  const started = Date.now();
  const pw = (name) => (buf.match(new RegExp("demo account " + name + " (\\S+)")) || [])[1];
  check(pw("duty") && pw("approver"), "the demo printed its accounts");
  check(/A case in progress: #1/.test(buf), "the demo set up a case in progress");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
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
    await first.locator("form[data-api$='/acknowledge'] button").click();
    await page.waitForLoadState("load");
    await page.locator(`#alert-${alertId}`).waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
    check(await page.locator(`#alert-${alertId}`).count() === 0, `alert ${alertId} leaves the firing tab once acknowledged`);
    await page.goto(base + "/alerts?state=acknowledged");
    const acked = page.locator(`#alert-${alertId}`);
    check(await acked.count() === 1 && (await acked.innerText()).includes("已确认"), `alert ${alertId} is in the acknowledged tab, marked 已确认`);

    // Open a case from it: the case workspace opens on the new case.
    await acked.locator("form[data-api='/api/v1/cases'] button").click();
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
      await ap.locator(".response form[data-api$='/approve'] button").click();
      await ap.waitForLoadState("load");
      await ap.locator(".response form[data-api$='/approve']").waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
      const after = await ap.locator(".response .meta").first().innerText();
      check(before !== after && (await ap.locator(".response .state").first().textContent()) === next,
        `${who} approves: the step moves on (${before.split("·").pop().trim()} → ${after.split("·").pop().trim()})`);
      check(await ap.locator(".response form[data-api$='/approve']").count() === 0, `${who}: no approve button once their step is done`);
      const tl = await ap.locator(".timeline").last().innerText();
      check(tl.includes("response_approved"), `${who}: the timeline records the approval`);
      await ap.goto(base + "/login");
      await ap.evaluate("fetch('/api/v1/logout', { method: 'POST', headers: { 'x-csrf-token': document.querySelector('meta[name=csrf-token]') ? document.querySelector('meta[name=csrf-token]').content : '' } })").catch(() => {});
      await desk.clearCookies();
      await ap.close();
    }
    await desk.close();
  } finally {
    await browser.close();
  }
} catch (e) {
  console.log("FAIL " + (e.stack || e));
  failures++;
} finally {
  server.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
if (failures) {
  console.log(failures + " workspace check(s) failed");
  process.exit(1);
}
console.log("all workspace checks passed; screenshots in " + shots);
