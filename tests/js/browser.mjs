// Headless Chromium (Debian's package) through playwright-core, for the browser tests.
import { chromium } from "playwright-core";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export async function readRequest() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

// Runs `use(page, requests)` in a fresh browser; `requests` lists every URL the page asked for.
export async function withPage(use) {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: FLAGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
    const requests = [];
    page.on("request", (request) => requests.push(request.url()));
    const problems = [];
    page.on("pageerror", (error) => problems.push(String(error)));
    const result = await use(page, requests);
    return { ...result, requests, problems };
  } finally {
    await browser.close();
  }
}

export async function signIn(page, username, password) {
  await page.locator("form#login").waitFor({ state: "visible" });
  await page.fill("input[name=identifier]", username);
  await page.fill("input[name=password]", password);
  await page.click("form#login button[type=submit]");
}
