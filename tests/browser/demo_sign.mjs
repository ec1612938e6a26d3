// A citizen signs a document on the demo site with a real browser: the demo's
// "sign a document" form (typed text in Korean; a file read by the page's
// script in English), the gateway's chooser, review and waiting pages, back on
// the demo site with the receipt's claims in a table, and the receipt
// downloaded. Usage: node demo_sign.mjs BASE_URL SCREENSHOT_DIR [lang]
import { chromium } from "playwright-core";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const [base, shots, lang = "ko"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (msg) => { console.error("FAIL: " + msg); await browser.close(); process.exit(1); };
try {
  const context = await browser.newContext({ acceptDownloads: true, locale: lang === "en" ? "en-US" : "ko-KR", viewport: { width: 412, height: 915 } });
  const page = await context.newPage();
  await page.goto(`${base}/demo?lang=${lang}`);
  await page.click("#mj-demo-sign-link");
  await page.waitForURL(/\/demo\/sign/);
  const title = lang === "en" ? "Change of address" : "전입신고서";
  const content = lang === "en"
    ? "I, Hong Gildong, report my move to 1 Sejong-daero on 2026-11-23.\n"
    : "전입신고: 홍길동, 세종대로 1, 2026-11-23";
  await page.locator("#title").fill(title);
  // English: a typed text AND a file, signed together as two documents.
  // No newline: a textarea submits line breaks as CRLF.
  const note = "Consent to share the new address with the tax office.";
  if (lang === "en") {
    await page.locator("#text").fill(note);
    // A file: the page's script reads it into the form.
    await page.locator("#file").setInputFiles({ name: "move.txt", mimeType: "text/plain", buffer: Buffer.from(content) });
    await page.waitForFunction(() => document.getElementById("file_b64").value !== "");
  } else {
    await page.locator("#text").fill(content);
  }
  await page.screenshot({ path: `${shots}/sign-1-form-${lang}.png`, fullPage: true });
  await page.click("button[type=submit]");
  await page.waitForURL(/\/login\/[^/]+$/);
  await page.click("a[data-provider='kakao']");
  await page.waitForURL(/identify/);
  const digest = createHash("sha256").update(Buffer.from(content)).digest("hex");
  const noteDigest = createHash("sha256").update(Buffer.from(note)).digest("hex");
  const review = await page.textContent("body");
  if (!review.includes(digest)) await fail("the review lacks the digest");
  if (lang === "en" && (!review.includes(noteDigest) || !review.includes("move.txt"))) await fail("the review lacks the second document");
  if (lang !== "en" && !review.includes(title)) await fail("the review lacks the title");
  await page.locator("#name").fill("홍길동");
  await page.locator("#birthdate").fill("1990-01-31");
  await page.locator("#phone").fill("010-1234-5678");
  await page.locator("input[name=consent]").check();
  await page.screenshot({ path: `${shots}/sign-2-review-${lang}.png`, fullPage: true });
  await page.click("button[type=submit]");
  await page.waitForURL(/\/wait$/);
  await page.waitForURL(/\/demo\/signed/, { timeout: 30000 });
  await page.screenshot({ path: `${shots}/sign-3-receipt-${lang}.png`, fullPage: true });
  const table = await page.textContent("#mj-receipt");
  for (const want of [title, "kakao", "홍길동", "KST"]) {
    if (!table.includes(want)) await fail(`receipt table lacks ${want}: ${table}`);
  }
  const docs = await page.textContent("#mj-receipt-documents");
  if (!docs.includes(digest)) await fail(`documents table lacks the digest ${digest}`);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click("#mj-receipt-download"),
  ]);
  const jws = readFileSync(await download.path(), "utf8");
  const parts = jws.split(".");
  if (parts.length !== 3) await fail(`the download is not a compact JWS: ${jws.slice(0, 80)}`);
  const header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
  const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  if (header.typ !== "munjigi-receipt+jwt") await fail(`receipt typ ${header.typ}`);
  const signed = (claims.documents || []).map((d) => d.digest);
  const wanted = lang === "en" ? [noteDigest, digest] : [digest];
  if (JSON.stringify(signed) !== JSON.stringify(wanted)) await fail(`the receipt signs ${signed}, not ${wanted}`);
  if (!/^receipt-.+\.jws$/.test(download.suggestedFilename())) await fail(`file name ${download.suggestedFilename()}`);
  console.log("OK: signed a document through the demo in a real browser");
} catch (e) {
  await fail(String(e));
}
await browser.close();
