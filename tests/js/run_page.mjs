// Reads {url, username, password, start, screenshot} as JSON on stdin: opens the run page at
// `url`, signs in through its form, clicks "Run flow" when `start`, and watches the nodes until
// the run ends. Prints {status, colours: {node id: [background colours in the order seen]},
// streamed: [nodes that showed streamed text while running], timeline, outputs, images, requests}.
import { readRequest, signIn, withPage } from "./browser.mjs";

const FINAL = ["completed", "failed", "cancelled"];
const { url, username, password, start, screenshot } = await readRequest();

const answer = await withPage(async (page) => {
  await page.goto(url);
  await signIn(page, username, password);
  await page.locator(".node").first().waitFor();
  if (start) await page.click("#start");
  const colours = {};
  const streamed = new Set();
  const sample = async () => {
    const seen = await page.evaluate(() => ({
      status: document.getElementById("run-status").dataset.state,
      nodes: [...document.querySelectorAll(".node")].map((node) => ({
        id: node.dataset.nodeId,
        state: node.dataset.state,
        colour: getComputedStyle(node).backgroundColor,
        stream: node.querySelector(".stream").textContent,
      })),
    }));
    for (const node of seen.nodes) {
      const list = (colours[node.id] ||= []);
      if (list[list.length - 1] !== node.colour) list.push(node.colour);
      if (node.state === "running" && node.stream) streamed.add(node.id);
    }
    return seen;
  };
  const deadline = Date.now() + 90_000;
  let status = null;
  while (Date.now() < deadline) {
    const seen = await sample();
    status = seen.status;
    if (FINAL.includes(status) && seen.nodes.every((node) => node.state !== "running")) break;
    await page.waitForTimeout(40);
  }
  await page.waitForTimeout(400); // colour transitions, the last timeline frame, images loading
  await sample();
  await page.screenshot({ path: screenshot, fullPage: true });
  return {
    status,
    colours,
    streamed: [...streamed],
    timeline: await page.locator("#timeline .bar").count(),
    outputs: await page.locator("#outputs").innerText(),
    images: await page.locator("#outputs img").evaluateAll((images) => images.map((image) => image.naturalWidth)),
  };
});
process.stdout.write(JSON.stringify(answer));
