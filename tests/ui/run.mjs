// The web page in a real headless Chromium against `tidewatch demo`: the login (a wrong password
// refused, a demo account signed in), search with a topic filter,
// the topics table, and the rule editor (a malformed rule shows its positioned error in Chinese
// and English; a backtest shows per-day bars and samples with the matched words marked).
//
// Usage: node run.mjs PATH/TO/tidewatch   (started here on 127.0.0.1, a port picked at run time,
// stopped by its PID). Chromium: $CHROMIUM or /usr/bin/chromium.

import { checks, launch, startDemo } from "./harness.mjs";

const bin = process.argv[2];
if (!bin) throw new Error("usage: node run.mjs PATH/TO/tidewatch");
const { check, fail, finish } = checks();
let demo = null;

try {
  demo = await startDemo(bin, ["--speed", "1", "--preload-days", "30"], 60);
  const base = demo.base;
  const buf = demo.output();
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy/.test(m.text())) errors.push(m.text()); });
    await page.goto(base + "/monitor");

    // The page asks for a login; a wrong password is refused in both languages; a demo account
    // (printed by the demo) signs in.
    const m = buf.match(/demo account analyst (\S+)/);
    check(m != null, "the demo printed its accounts");
    await page.waitForSelector("#loginform", { state: "visible" });
    check(await page.isHidden("#app"), "nothing but the login is shown before signing in");
    if (process.env.TIDEWATCH_UI_SCREENSHOT) await page.screenshot({ path: process.env.TIDEWATCH_UI_SCREENSHOT.replace(/\.png$/, "-login.png") });
    await page.fill("#loginform input[name=username]", "analyst");
    await page.fill("#loginform input[name=password]", "not-the-password");
    await page.click("#loginform button[type=submit]");
    // (Locators, not waitForFunction: the page's CSP forbids the eval that waitForFunction uses.)
    await page.locator("#loginmsg", { hasText: /\S/ }).waitFor();
    const refusal = await page.textContent("#loginmsg");
    check(refusal.includes("凭据") && refusal.includes("credentials"), "a wrong password is refused: " + refusal);
    await page.fill("#loginform input[name=password]", m ? m[1] : "");
    await page.click("#loginform button[type=submit]");
    await page.waitForSelector("#app", { state: "visible" });
    check((await page.textContent("#whoami")).includes("analyst"), "signed in as analyst");

    // Topics table and the topic filter are filled from the API.
    await page.waitForSelector("#topics .topic");
    const topicIds = await page.$$eval("#topics .topic", (es) => es.map((e) => e.textContent));
    check(topicIds.includes("food-safety") && topicIds.includes("rumour-closure"), "topics table lists the demo topics: " + topicIds.join(", "));
    await page.locator("#topics td", { hasText: /\d+ 条 hits/ }).first().waitFor();

    // Search filtered by topic: every hit carries the topic's badge.
    await page.selectOption("#topicfilter", "food-safety");
    await page.fill("input[name=q]", "食堂");
    await page.click("#search button[type=submit]");
    await page.waitForSelector("#results .item");
    const badges = await page.$$eval("#results .item", (items) => items.map((it) => [...it.querySelectorAll(".topic")].map((b) => b.textContent)));
    check(badges.length > 0 && badges.every((b) => b.includes("food-safety")), `search with topic filter: ${badges.length} hits, all tagged food-safety`);
    const highlighted = await page.$$eval("#results .snippet b", (bs) => bs.map((b) => b.textContent));
    check(highlighted.includes("食堂"), "search hits are highlighted");

    // A malformed rule: the positioned error, in both languages, with a caret under column 14.
    await page.fill("#rule textarea", "食堂 AND (腹泻 OR");
    await page.click("#check");
    await page.waitForSelector("#rulemsg .err");
    const msg = await page.textContent("#rulemsg");
    check(msg.includes("第 14 列") && msg.includes("column 14"), "malformed rule: positioned error in Chinese and English: " + msg.replace(/\s+/g, " ").slice(0, 160));
    const caret = await page.textContent("#rulemsg pre.caret");
    check(caret.split("\n")[1] === " ".repeat(13) + "^", "the caret stands under column 14");

    // The same error from the backtest button.
    await page.click("#rule button[type=submit]");
    await page.locator("#rulemsg", { hasText: "第 14 列" }).waitFor();
    check(true, "backtest of a malformed rule shows the same error");

    // A valid rule: backtest with per-day bars and samples with the matched words marked.
    await page.fill("#rule textarea", '食堂 AND (呕吐 OR "food poisoning")');
    await page.fill("#rule input[name=days]", "30");
    await page.click("#rule button[type=submit]");
    await page.waitForSelector("#backtest .bars div", { state: "attached" });
    const bars = await page.$$eval("#backtest .bars div", (bs) => bs.length);
    const marks = await page.$$eval("#backtest mark", (ms) => ms.map((m) => m.textContent));
    const summary = await page.textContent("#backtest .meta");
    check(bars === 30, `backtest shows 30 daily bars (${bars})`);
    check(marks.length > 0 && marks.every((m) => ["食堂", "呕吐", "food poisoning"].includes(m.toLowerCase()) || m === "食堂"), "samples mark the matched words: " + [...new Set(marks)].join(", "));
    check(/[1-9]\d* \/ \d+ 条命中/.test(summary), "backtest summary: " + summary);
    check((await page.textContent("#rulemsg")).includes("规则有效"), "a valid rule is reported valid");

    // Stories and bursts (the page refreshes them every 5 s as the replay goes on).
    await page.selectOption("#storyorder", "size");
    await page.locator("#stories .story").nth(9).waitFor({ timeout: 30000 });
    const story = await page.$eval("#stories .story", (e) => ({ text: e.textContent, mix: e.querySelectorAll(".mix span").length, bars: e.querySelectorAll(".spark div").length }));
    check(/\d+ 条 items · \d+ 转发 reposts · \d+ 来源 sources/.test(story.text) && story.mix === 3 && story.bars > 0, "stories list counts, sentiment mix and volume: " + story.text.slice(0, 80));
    await page.click("#stories .story");
    await page.waitForSelector("#storydetail .item");
    check((await page.textContent("#storydetail h2")).includes("事件 #"), "a story opens with its items");
    await page.waitForSelector("#bursts .burst", { timeout: 30000 });
    const why = await page.textContent("#bursts .burst .why");
    check(/观测 observed \d+/.test(why) && why.includes("期望 expected") && why.includes("主要来源 top sources") && why.includes("时间窗 window"), "bursts show their explanation: " + why.replace(/\s+/g, " ").slice(0, 160));
    if (process.env.TIDEWATCH_UI_SCREENSHOT) await page.screenshot({ path: process.env.TIDEWATCH_UI_SCREENSHOT, fullPage: true });
    check(errors.length === 0, "no script errors on the page " + errors.join("; "));
  } finally {
    await browser.close();
  }
} catch (e) {
  fail(e);
} finally {
  if (demo) await demo.stop();
}
finish("UI", "all UI checks passed");
