// The chooser while one provider is not answering and one is turned off by an
// operator, in a real browser: the healthy providers come first as links, the
// others are greyed out with their reason and are neither links nor in the
// keyboard's tab order; nothing overflows a 320 px screen.
// Usage: node degraded_chooser.mjs SITE_LOGIN_URL SCREENSHOT_DIR lang off,off…
import { chromium } from "playwright-core";

const [start, shots, lang = "ko", offList = ""] = process.argv.slice(2);
const off = offList.split(",").filter(Boolean);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
try {
  for (const width of [412, 320]) {
    const page = await browser.newPage({ locale: lang === "en" ? "en-US" : "ko-KR", viewport: { width, height: 900 } });
    await page.goto(start);
    await page.waitForURL(/\/login\/[^/?]+(\?.*)?$/);
    await page.goto(`${page.url().split("?")[0]}?lang=${lang}`);
    await page.screenshot({ path: `${shots}/chooser-degraded-${lang}-${width}.png`, fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) await fail(`${width} px: ${overflow} px of horizontal overflow`);
    for (const id of off) {
      const el = page.locator(`[data-provider='${id}']`);
      if (await el.count() !== 1) await fail(`${id} not listed once`);
      const tag = await el.evaluate((e) => e.tagName);
      if (tag === "A") await fail(`${id} is a link`);
      if (!(await el.isVisible())) await fail(`${id} not visible`);
      const reason = (await el.locator(".mj-provider__reason").textContent() || "").trim();
      if (reason.length < 3) await fail(`${id} has no reason`);
    }
    // Tab through the page: only offered providers take focus.
    const focused = [];
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press("Tab");
      const p = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute("data-provider"));
      if (p) focused.push(p);
    }
    for (const id of off) if (focused.includes(id)) await fail(`${id} takes keyboard focus`);
    if (focused.length === 0) await fail("no provider takes keyboard focus");
    await page.close();
  }
  console.log("OK: degraded chooser");
} catch (e) {
  await fail(String(e));
}
await browser.close();
