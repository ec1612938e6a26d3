// A wallet login (the mobile ID by QR code, or an OpenID4VP wallet) on the
// demo site in a real browser, on a 320 px screen: the chooser's entry, the
// form by keyboard, the waiting page with its QR code (visible, square,
// inside the screen, named for screen readers after the provider) and, for
// an OpenID4VP wallet, the button opening a wallet on this phone; the code
// is written out as SCREENSHOT_DIR/PROVIDER-qr-LANG.svg for the test to
// scan with the simulator's wallet, whose presentation then moves the page
// on by itself to the demo site's claims.
// Usage: node wallet.mjs BASE_URL SCREENSHOT_DIR LANG PROVIDER NAME_KO NAME_EN
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";

const [base, shots, lang = "ko", provider = "mobile-id", nameKo = "모바일 신분증", nameEn = "Mobile ID"] =
  process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
try {
  const page = await browser.newPage({ locale: lang === "en" ? "en-US" : "ko-KR", viewport: { width: 320, height: 800 } });
  await page.goto(`${base}/demo?lang=${lang}`);
  await page.click("a[href='/demo/login']");
  await page.waitForURL(/\/login\/[^/]+$/);
  // More than eight providers: the filter box narrows the list by name.
  const filter = page.locator("#mj-filter");
  if (await filter.count() !== 0) {
    if (!(await filter.isVisible())) await fail("the filter box stays hidden with its script");
    await filter.fill(lang === "en" ? nameEn.slice(0, 5) : nameKo.slice(0, 3));
    const shown = await page.locator("#mj-provider-list li:not([hidden])").count();
    const all = await page.locator("#mj-provider-list li").count();
    if (shown < 1 || shown >= all) await fail(`the filter shows ${shown} of ${all}`);
    const said = await page.textContent("#mj-filter-count");
    if (!said.includes(String(shown))) await fail(`the count says ${said}, ${shown} shown`);
    await page.screenshot({ path: `${shots}/chooser-filter-${lang}.png`, fullPage: true });
    await filter.fill("");
  }
  await page.click(`a[data-provider='${provider}']`);
  await page.waitForURL(/identify/);
  await page.locator("#name").focus();
  await page.keyboard.type("홍길동");
  await page.locator("#birthdate").fill("1990-01-31");
  await page.locator("#phone").fill("010-1234-5678");
  await page.locator("input[name=consent]").focus();
  await page.keyboard.press("Space");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/wait$/);
  const qr = page.locator("#mj-wallet-qr");
  const label = await qr.getAttribute("aria-label");
  const want = lang === "en" ? `QR code to scan with your ${nameEn} app` : `${nameKo} 앱으로 촬영할 QR 코드`;
  if (label !== want) await fail(`QR code's name: ${label}`);
  const box = await page.locator("#mj-wallet-qr svg").boundingBox();
  if (!box || box.width < 150 || Math.abs(box.width - box.height) > 1 || box.x < 0 || box.x + box.width > 320) {
    await fail(`QR code not shown square inside a 320 px screen: ${JSON.stringify(box)}`);
  }
  const open = page.locator("#mj-wallet-open");
  if (provider !== "mobile-id") {
    // The same request for a wallet on this phone: a link, inside the screen.
    const href = await open.getAttribute("href");
    if (!href || !href.startsWith("openid4vp://?client_id=")) await fail(`no wallet link: ${href}`);
    const b = await open.boundingBox();
    if (!b || b.x < 0 || b.x + b.width > 320) await fail(`wallet button outside the screen: ${JSON.stringify(b)}`);
  } else if (await open.count() !== 0) {
    await fail("a mobile ID QR code has no OpenID4VP link");
  }
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
  if (scroll > 320) await fail(`the waiting page scrolls sideways at 320 px: ${scroll}`);
  await page.screenshot({ path: `${shots}/${provider}-waiting-${lang}.png`, fullPage: true });
  writeFileSync(`${shots}/${provider}-qr-${lang}.svg`, await page.locator("#mj-wallet-qr").innerHTML());
  await page.waitForURL(/\/demo$/, { timeout: 40000 });
  const text = await page.textContent("body");
  await page.screenshot({ path: `${shots}/${provider}-result-${lang}.png`, fullPage: true });
  for (const w of ["1990-01-31", "urn:munjigi:acr:high", provider]) {
    if (!text.includes(w)) await fail(`result page lacks ${w}`);
  }
  console.log(`OK: logged in with ${provider} in a real browser`);
} catch (e) {
  await fail(String(e));
}
await browser.close();
