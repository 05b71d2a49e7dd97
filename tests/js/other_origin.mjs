// Reads {url} as JSON on stdin: opens the page at `url` (served on another origin than the API)
// and waits for it to write its result; prints {result, requests, problems}.
import { readRequest, withPage } from "./browser.mjs";

const { url } = await readRequest();
const answer = await withPage(async (page) => {
  await page.goto(url);
  const result = page.locator("#result[data-done]");
  await result.waitFor({ timeout: 60_000 });
  return { result: JSON.parse(await result.textContent()) };
});
process.stdout.write(JSON.stringify(answer));
