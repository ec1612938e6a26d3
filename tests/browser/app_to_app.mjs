// App-to-app on a phone-sized browser (360 px, an Android phone's
// User-Agent): chooser → form (the app preselected) → waiting page with
// "open the app" → the provider's app (the simulator's app page, opened with
// exactly the link the button carries, as the phone would) → back → done.
// Kakao's app returns to the waiting page by itself in the same tab; for
// Naver the app is another tab and the citizen switches back to the waiting
// page, which moves on by itself. On the next visit the chooser offers
// Naver first ("continue with").
// Usage: node app_to_app.mjs BASE_URL SIM_URL SCREENSHOT_DIR LANG
import { chromium } from "playwright-core";

const [base, sim, shots, lang = "ko"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
const en = lang === "en";
try {
  const context = await browser.newContext({
    locale: en ? "en-US" : "ko-KR",
    viewport: { width: 360, height: 780 },
    isMobile: true,
    hasTouch: true,
    userAgent: "Mozilla/5.0 (Linux; Android 14; SM-S928N) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  });
  const page = await context.newPage();

  // Ends the demo site's and the gateway's sessions (the next login shows
  // the chooser again); the device keeps only its remembered provider.
  async function endSessions() {
    const kept = (await context.cookies()).filter((c) => c.name === "mj_last");
    await context.clearCookies();
    await context.addCookies(kept);
  }

  // Chooser to the waiting page, by keyboard on the form.
  async function toWaiting(provider) {
    await page.goto(`${base}/demo?lang=${lang}`);
    await page.click("a[href='/demo/login']");
    await page.waitForURL(/\/login\/[^/]+$/);
    await page.click(`a[data-provider='${provider}']`);
    await page.waitForURL(/identify/);
    if (!(await page.locator("#reach-app").isChecked())) await fail(`${provider}: a phone does not preselect the app`);
    await page.locator("#name").fill("홍길동");
    await page.locator("#birthdate").fill("900131");
    await page.locator("#phone").fill("010-1234-5678");
    await page.locator("input[name=consent]").focus();
    await page.keyboard.press("Space");
    await page.screenshot({ path: `${shots}/app-form-${provider}-${lang}.png`, fullPage: true });
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/wait$/);
    const open = page.locator("#mj-app-open");
    if (!(await open.isVisible())) await fail(`${provider}: no visible open-the-app button`);
    const box = await open.boundingBox();
    if (box.x < 0 || box.x + box.width > 360 || box.height < 44) await fail(`${provider}: the button is off screen or small: ${JSON.stringify(box)}`);
    const label = (await open.textContent()).trim();
    const want = en ? "Open the" : "앱 열기";
    if (!label.includes(want)) await fail(`${provider}: button says ${label}`);
    await page.screenshot({ path: `${shots}/app-waiting-${provider}-${lang}.png`, fullPage: true });
    return await open.getAttribute("href");
  }

  // Kakao: the app comes back to the waiting page in this same tab.
  const kakao = await toWaiting("kakao");
  if (!kakao.startsWith("kakaotalk://")) await fail(`kakao link ${kakao}`);
  await page.goto(`${sim}/_app/open?link=${encodeURIComponent(kakao)}`);
  await page.click("#approve");
  await page.waitForURL(/\/demo$/, { timeout: 30000 });
  if (!(await page.textContent("body")).includes("kakao")) await fail("kakao: not logged in on the demo site");
  await endSessions();

  // Naver: the app is another app (a tab); the citizen switches back.
  const naver = await toWaiting("naver");
  if (!naver.startsWith("naversearchapp://")) await fail(`naver link ${naver}`);
  const market = await page.locator("#mj-app-market").getAttribute("href");
  if (!market.startsWith("https://play.google.com/")) await fail(`naver store link ${market}`);
  const app = await context.newPage();
  await app.goto(`${sim}/_app/open?link=${encodeURIComponent(naver)}`);
  await app.click("#approve");
  await app.locator("#done").waitFor();
  await app.close();
  await page.bringToFront();
  await page.waitForURL(/\/demo$/, { timeout: 30000 });
  if (!(await page.textContent("body")).includes("naver")) await fail("naver: not logged in on the demo site");
  await endSessions();

  // The next visit: Naver first, as "continue with".
  await page.goto(`${base}/demo?lang=${lang}`);
  await page.click("a[href='/demo/login']");
  await page.waitForURL(/\/login\/[^/]+$/);
  const first = page.locator("a#mj-last");
  if ((await first.getAttribute("data-provider")) !== "naver") await fail("the last provider used is not first");
  const text = await first.textContent();
  if (!text.includes(en ? "Continue with Naver" : "네이버로 계속하기")) await fail(`first entry says ${text}`);
  await page.screenshot({ path: `${shots}/app-chooser-last-${lang}.png`, fullPage: true });
  console.log("OK: app-to-app on a phone, back, done; the last provider first");
} catch (e) {
  await fail(String(e));
}
await browser.close();
