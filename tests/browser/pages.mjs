// Every citizen-facing page, in Korean and English, at a phone's width (360
// px) and a desktop's (1280 px): a screenshot of each into OUT_DIR, and
// axe-core's WCAG 2.2 AA rules on each, which must find nothing.
// The pages are reached the way a citizen reaches them on the demo site:
// the chooser, the form (and with errors), the waiting page (push,
// app-to-app and a wallet's QR code), the demo site after the login, the
// signing review, the logout confirmation and its result, the kiosk's code
// page, and the error pages (rejected, a result that failed its checks,
// another browser, an unknown login).
// Usage: node pages.mjs BASE_URL OUT_DIR
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync, readdirSync, rmSync } from "node:fs";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const [base, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
// A fresh set: nothing left from an earlier run can pass for this one's.
for (const f of readdirSync(out)) if (f.endsWith(".png")) rmSync(`${out}/${f}`);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const WIDTHS = [["phone", 360, 780], ["desktop", 1280, 900]];
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];
const problems = [];
let shots = 0;

/// Screenshot and axe at both widths; the page is left at the phone width.
async function capture(page, name, lang) {
  for (const [label, width, height] of WIDTHS) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: `${out}/${name}-${lang}-${label}.png`, fullPage: true });
    shots += 1;
    for (const v of await audit(page)) problems.push(`${name} ${lang} ${label}: ${v}`);
  }
  await page.setViewportSize({ width: 360, height: 780 });
}

async function fillForm(page, phone) {
  await page.locator("#name").fill("홍길동");
  await page.locator("#birthdate").fill("1990-01-31");
  await page.locator("#phone").fill(phone);
  await page.locator("input[name=consent]").check();
}

/// axe's findings on the current page, as lines.
async function audit(page) {
  await page.addScriptTag({ path: axePath });
  return await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: "tag", values: tags } });
    return r.violations.map((v) => `${v.id} (${v.impact}) at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }, TAGS);
}

// The checker must be able to fail: a page with known faults (no language,
// an image without a text, grey on grey) must be reported.
{
  const page = await browser.newPage();
  await page.setContent('<html><head><title>x</title></head><body><main><img src="data:,"><p style="color:#bbb;background:#ccc">low contrast</p></main></body></html>');
  const found = (await audit(page)).join("\n");
  for (const rule of ["html-has-lang", "image-alt", "color-contrast"]) {
    if (!found.includes(rule)) {
      console.error(`FAIL: axe did not report ${rule} on a page that breaks it:\n${found}`);
      process.exit(1);
    }
  }
  await page.close();
}

let current = null;
try {
for (const lang of ["ko", "en"]) {
  // bypassCSP: the pages' CSP rightly refuses the injected axe script.
  const context = await browser.newContext({
    locale: lang === "en" ? "en-US" : "ko-KR",
    viewport: { width: 360, height: 780 },
    bypassCSP: true,
  });
  const page = await context.newPage();
  current = page;
  const toChooser = async () => {
    await page.goto(`${base}/demo?lang=${lang}`);
    await page.click("a[href='/demo/login']");
    await page.waitForURL(/\/login\/[^/]+$/);
  };
  const toForm = async (provider) => {
    await toChooser();
    await page.click(`a[data-provider='${provider}']`);
    await page.waitForURL(/identify/);
  };
  const ended = async () => {
    await page.waitForSelector("#mj-waiting", { state: "detached", timeout: 30000 });
    await page.waitForLoadState();
  };

  await toChooser();
  await capture(page, "chooser", lang);
  await page.click("a[data-provider='kakao']");
  await page.waitForURL(/identify/);
  await capture(page, "form", lang);
  await page.click("button[type=submit]");
  await page.waitForSelector(".mj-error-summary");
  await capture(page, "form-errors", lang);

  // A push the citizen never answers: the waiting page as it stays.
  await fillForm(page, "010-0000-0002");
  await page.locator("#reach-push").check();
  await page.click("button[type=submit]");
  await page.waitForURL(/\/wait$/);
  await capture(page, "waiting", lang);
  await page.click(".mj-inline-form button[type=submit]");
  await page.waitForURL(/\/login\/[^/]+$/);

  // App-to-app: the waiting page with "open the app".
  await page.click("a[data-provider='pass']");
  await page.waitForURL(/identify/);
  await page.locator("#reach-app").check();
  await page.locator("#carrier").selectOption("KT");
  await fillForm(page, "010-0000-0002");
  await capture(page, "form-app", lang);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/wait$/);
  await page.locator("#mj-app-open").waitFor();
  await capture(page, "waiting-app", lang);
  await page.click(".mj-inline-form button[type=submit]");
  await page.waitForURL(/\/login\/[^/]+$/);

  // A wallet: the waiting page with its QR code.
  await page.click("a[data-provider='wallet']");
  await page.waitForURL(/identify/);
  await fillForm(page, "010-1234-5678");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/wait$/);
  await page.locator("#mj-wallet-qr").waitFor();
  await capture(page, "waiting-qr", lang);
  await page.click(".mj-inline-form button[type=submit]");
  await page.waitForURL(/\/login\/[^/]+$/);

  // The citizen rejects in the app.
  await page.click("a[data-provider='kakao']");
  await page.waitForURL(/identify/);
  await fillForm(page, "010-0000-0001");
  await page.locator("#reach-push").check();
  await page.click("button[type=submit]");
  await ended();
  await capture(page, "error-rejected", lang);

  // A result that fails its checks (content tampered with).
  await toForm("kakao");
  await fillForm(page, "010-0000-0003");
  await page.locator("#reach-push").check();
  await page.click("button[type=submit]");
  await ended();
  await capture(page, "error-failed", lang);

  // Another browser opens this login's link.
  await toChooser();
  const other = await browser.newContext({ locale: lang === "en" ? "en-US" : "ko-KR", viewport: { width: 360, height: 780 }, bypassCSP: true });
  const stranger = await other.newPage();
  await stranger.goto(page.url());
  await capture(stranger, "error-other-browser", lang);
  // A login that does not exist.
  await stranger.goto(`${base}/login/no-such-login?lang=${lang}`);
  await capture(stranger, "error-not-found", lang);
  // The kiosk's code page, on the citizen's phone.
  await stranger.goto(`${base}/device?lang=${lang}`);
  await capture(stranger, "device-code", lang);
  await other.close();

  // A whole login: the demo site with the claims.
  await page.click("a[data-provider='kakao']");
  await page.waitForURL(/identify/);
  await fillForm(page, "010-1234-5678");
  await page.locator("#reach-push").check();
  await page.click("button[type=submit]");
  await page.waitForURL(/\/demo$/, { timeout: 30000 });
  await capture(page, "done", lang);

  // The signing review (the gateway session logs the citizen in, but a
  // signature is always asked for).
  await page.goto(`${base}/demo/sign?lang=${lang}`);
  await page.locator("#title").fill(lang === "en" ? "Change of address" : "전입신고서");
  await page.locator("#text").fill("전입신고: 홍길동, 세종대로 1");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/login\/[^/]+$/);
  await page.click("a[data-provider='kakao']");
  await page.waitForURL(/identify/);
  await capture(page, "sign-review", lang);

  // Logging out of the gateway: the confirmation, then its result.
  await page.goto(`${base}/logout?lang=${lang}`);
  await page.locator("#logout-title").waitFor();
  await capture(page, "logout-confirm", lang);
  await page.click("form button[type=submit]");
  await page.waitForLoadState();
  await capture(page, "logged-out", lang);
  await context.close();
}
} catch (e) {
  const where = current ? current.url() : "-";
  if (current) await current.screenshot({ path: `${out}/_failure.png`, fullPage: true }).catch(() => {});
  console.error(`FAIL: ${e} (at ${where}; screenshot ${out}/_failure.png)`);
  await browser.close();
  process.exit(1);
}
await browser.close();
if (problems.length) {
  console.error(`FAIL: axe found ${problems.length} violation(s):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`OK: ${shots} screenshots, axe (${TAGS.join(", ")}) found no violation`);
