// A SAML SP on another site (http://localhost:PORT, the gateway at
// http://127.0.0.1:PORT) logs the citizen in, then logs out over the
// HTTP-POST binding. The browser sends no SameSite=Lax cookie with that
// cross-site POST, so the gateway must post the message again from its own
// page to see the session: afterwards a passive login at the SP must find no
// gateway session (NoPassive), not a session still alive.
// Usage: node saml_logout_post.mjs SP_BASE SCREENSHOT_DIR
import { chromium } from "playwright-core";

const [sp, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
const json = async (page) => JSON.parse(await page.textContent("body"));
const at = (path) => (url) => url.href.startsWith(sp + path);
try {
  const page = await browser.newPage({ locale: "ko-KR", viewport: { width: 412, height: 915 } });
  await page.goto(`${sp}/login?binding=redirect`);
  await page.waitForURL(/\/login\/[^/]+$/);
  await page.click("a[data-provider='kakao']");
  await page.waitForURL(/identify/);
  await page.getByLabel("이름", { exact: false }).first().fill("홍길동");
  await page.locator("#birthdate").fill("1990-01-31");
  await page.locator("#phone").fill("010-1234-5678");
  await page.locator("input[name=consent]").check();
  await page.keyboard.press("Enter");
  await page.waitForURL(at("/acs"), { timeout: 30000 });
  const first = await json(page);
  if (first.ok !== true) await fail(`login: ${JSON.stringify(first)}`);
  // Single sign-on is alive: a passive login is answered at once.
  await page.goto(`${sp}/login?binding=redirect&passive=1`);
  await page.waitForURL(at("/acs"), { timeout: 15000 });
  const again = await json(page);
  if (again.ok !== true) await fail(`passive login before logout: ${JSON.stringify(again)}`);
  // The SP's page posts its LogoutRequest to the gateway (cross-site).
  await page.goto(`${sp}/logout?binding=post`);
  await page.waitForURL(at("/slo"), { timeout: 15000 });
  await page.screenshot({ path: `${shots}/saml-post-logout.png`, fullPage: true });
  const out = await json(page);
  if (out.ok !== true) await fail(`logout: ${JSON.stringify(out)}`);
  // The gateway session is gone.
  await page.goto(`${sp}/login?binding=redirect&passive=1`);
  await page.waitForURL(at("/acs"), { timeout: 15000 });
  const after = await json(page);
  if (after.ok !== false || !String(after.sub_status).endsWith("NoPassive")) {
    await fail(`the gateway session outlived the logout: ${JSON.stringify(after)}`);
  }
  console.log("OK: a cross-site POST logout ended the gateway session in a real browser");
} catch (e) {
  await fail(String(e));
}
await browser.close();
