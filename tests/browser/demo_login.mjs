// A citizen logs in on the demo site with a real browser: keyboard only for the
// form, the waiting page's script doing the polling, back on the demo site with
// the claims shown. Usage: node demo_login.mjs BASE_URL SCREENSHOT_DIR [lang]
import { chromium } from "playwright-core";

const [base, shots, lang = "ko"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ locale: lang === "en" ? "en-US" : "ko-KR", viewport: { width: 412, height: 915 } });
  await page.goto(`${base}/demo`);
  await page.click("a[href='/demo/login']");
  await page.waitForURL(/\/login\/[^/]+$/);
  await page.screenshot({ path: `${shots}/1-chooser-${lang}.png`, fullPage: true });
  await page.click("a[data-provider='kakao']");
  await page.waitForURL(/identify/);
  // Keyboard only: labels lead to the fields.
  await page.getByLabel(lang === "en" ? "Name" : "이름", { exact: false }).first().fill(lang === "en" ? "Hong Gildong" : "홍길동");
  await page.locator("#birthdate").fill("1990-01-31");
  await page.locator("#phone").fill("010-1234-5678");
  await page.locator("input[name=consent]").focus();
  await page.keyboard.press("Space");
  await page.screenshot({ path: `${shots}/2-form-${lang}.png`, fullPage: true });
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/wait$/);
  await page.screenshot({ path: `${shots}/3-waiting-${lang}.png`, fullPage: true });
  await page.waitForURL(/\/demo$/, { timeout: 30000 });
  const text = await page.textContent("body");
  await page.screenshot({ path: `${shots}/4-result-${lang}.png`, fullPage: true });
  for (const want of ["+821012345678", "1990-01-31", "urn:munjigi:acr:substantial", "kakao"]) {
    if (!text.includes(want)) await fail(`result page lacks ${want}`);
  }
  console.log("OK: logged in through the demo in a real browser");
} catch (e) {
  await fail(String(e));
}
await browser.close();
