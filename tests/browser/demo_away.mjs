// The demo's call-centre screen and kiosk in a real browser. The operator
// types the caller with the keyboard and sends the request; the waiting
// page's script notices the approval and shows the verified claims. The
// kiosk shows a code and its QR code; a second page (the citizen's phone)
// types the code at /device, confirms and logs in through the chooser; the
// kiosk's script then shows the welcome. Screenshots in SCREENSHOT_DIR.
// Usage: node demo_away.mjs BASE_URL SCREENSHOT_DIR [lang]
import { chromium } from "playwright-core";

const [base, shots, lang = "ko"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
const locale = lang === "en" ? "en-US" : "ko-KR";
try {
  // The call centre (a desktop screen).
  const desk = await browser.newPage({ locale, viewport: { width: 1280, height: 900 } });
  await desk.goto(`${base}/demo?lang=${lang}`);
  await desk.click("#mj-demo-callcentre-link");
  await desk.waitForURL(/\/demo\/callcentre$/);
  await desk.locator("#name").focus();
  await desk.keyboard.type("홍길동");
  await desk.keyboard.press("Tab");
  await desk.keyboard.type("1990-01-31");
  await desk.keyboard.press("Tab");
  await desk.keyboard.type("010-1234-5678");
  await desk.locator("#provider").selectOption("kakao");
  await desk.screenshot({ path: `${shots}/callcentre-form-${lang}.png`, fullPage: true });
  await desk.keyboard.press("Enter");
  await desk.waitForURL(/\/demo\/callcentre\/wait$/);
  const code = (await desk.textContent("#mj-cc-code .mj-pushcode__value")).trim();
  if (!/^\d{4}$/.test(code)) await fail(`no 4-digit code on the operator's screen: ${code}`);
  await desk.screenshot({ path: `${shots}/callcentre-wait-${lang}.png`, fullPage: true });
  await desk.waitForSelector("#mj-away-claims", { timeout: 30000 });
  const claims = await desk.textContent("#mj-away-claims");
  for (const want of ["홍길동", "urn:munjigi:acr:substantial", "kakao"]) {
    if (!claims.includes(want)) await fail(`call-centre result lacks ${want}`);
  }
  await desk.screenshot({ path: `${shots}/callcentre-done-${lang}.png`, fullPage: true });

  // The kiosk, and the citizen's phone (320 px wide).
  const kiosk = await browser.newPage({ locale, viewport: { width: 1080, height: 1920 } });
  await kiosk.goto(`${base}/demo/kiosk?lang=${lang}`);
  await kiosk.waitForURL(/\/demo\/kiosk\/wait/);
  const userCode = (await kiosk.textContent("#mj-user-code")).trim();
  const qrOk = await kiosk.$eval("#mj-kiosk-qr", (img) => img.complete && img.naturalWidth > 0);
  if (!qrOk) await fail("the kiosk's QR code did not load");
  await kiosk.screenshot({ path: `${shots}/kiosk-code-${lang}.png`, fullPage: true });
  const phone = await browser.newPage({ locale, viewport: { width: 320, height: 640 } });
  await phone.goto(`${base}/device?user_code=${encodeURIComponent(userCode)}`);
  await phone.keyboard.press("Tab");
  await phone.click("button[type=submit]");
  await phone.click("button[value=confirm]");
  await phone.waitForURL(/\/login\/[^/]+$/);
  await phone.click("a[data-provider='kakao']");
  await phone.waitForURL(/identify/);
  await phone.locator("#name").fill("홍길동");
  await phone.locator("#birthdate").fill("1990-01-31");
  await phone.locator("#phone").fill("010-1234-5678");
  await phone.locator("input[name=consent]").check();
  await phone.locator("form button[type=submit]").click();
  await kiosk.waitForSelector("#mj-kiosk-welcome", { timeout: 40000 });
  const welcome = await kiosk.textContent("#mj-kiosk-welcome");
  if (!welcome.includes("홍길동")) await fail(`kiosk welcome lacks the name: ${welcome}`);
  await kiosk.screenshot({ path: `${shots}/kiosk-welcome-${lang}.png`, fullPage: true });
  console.log("OK: call centre and kiosk in a real browser");
} catch (e) {
  await fail(String(e));
}
await browser.close();
