// A citizen waits on Naver when Naver goes down for everyone: the waiting
// page's own script shows the way to another provider in place (no reload,
// no loop), announces it, and the button leads back to the chooser.
// Usage: node waiting_down.mjs SITE_LOGIN_URL SCREENSHOT_DIR lang SIM_URL CONTROL_TOKEN
import { chromium } from "playwright-core";

const [start, shots, lang = "ko", sim, token] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
const outage = async (mode) => {
  const r = await fetch(`${sim}/_control/outage`, {
    method: "POST",
    headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ provider: "naver", mode }),
  });
  if (r.status !== 200) await fail(`outage ${mode}: ${r.status}`);
};
try {
  const page = await browser.newPage({ locale: lang === "en" ? "en-US" : "ko-KR", viewport: { width: 412, height: 915 } });
  await page.goto(start);
  await page.waitForURL(/\/login\/[^/?]+(\?.*)?$/);
  await page.goto(`${page.url().split("?")[0]}/identify?provider=naver&lang=${lang}`);
  await page.locator("#name").fill("홍길동");
  await page.locator("#birthdate").fill("1990-01-31");
  // Nobody answers in the app: the login stays pending.
  await page.locator("#phone").fill("010-0000-0002");
  await page.locator("input[name=consent]").check();
  await page.locator("button.mj-button[type=submit]").first().click();
  await page.waitForURL(/\/wait$/);
  if (await page.locator("#mj-down").isVisible()) await fail("notice shown before the outage");
  let navigations = 0;
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations += 1; });
  await outage("down");
  await page.locator("#mj-down").waitFor({ state: "visible", timeout: 30000 });
  const status = (await page.locator("#mj-status").textContent()) || "";
  if (!status.includes(lang === "en" ? "Naver" : "네이버")) await fail(`not announced: ${status}`);
  await page.screenshot({ path: `${shots}/waiting-down-${lang}.png`, fullPage: true });
  // Shown in place, and the page stays put while its polls go on.
  await page.waitForTimeout(5000);
  if (navigations !== 0) await fail(`${navigations} navigations: the page reloaded`);
  await outage("none");
  await page.locator("#mj-down a").click();
  await page.waitForURL(/\/login\/[^/?]+(\?.*)?$/);
  if (!(await page.locator("a[data-provider='kakao']").count())) await fail("not the chooser");
  console.log("OK: waiting page offers another provider in place");
} catch (e) {
  await fail(String(e));
}
await browser.close();
