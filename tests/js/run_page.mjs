// Reads {url, username, password, start, screenshot, runningScreenshot} as JSON on stdin: opens
// the run page at `url`, signs in through its form, clicks "Run flow" when `start`, and watches
// the nodes until the run ends; screenshots the page once while some nodes are done and two or
// more running (runningScreenshot), and at the end (screenshot). Prints {status, colours: {node id: [background colours in the order seen]},
// streamed: [nodes that showed streamed text while running], timeline, outputs, images, requests}.
import { readRequest, signIn, withPage } from "./browser.mjs";

const FINAL = ["completed", "failed", "cancelled"];
const { url, username, password, start, screenshot, runningScreenshot } = await readRequest();

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
        stream: node.querySelector(".stream")?.textContent ?? "",
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
  let tookRunning = false;
  while (Date.now() < deadline) {
    const seen = await sample();
    status = seen.status;
    const states = seen.nodes.map((node) => node.state);
    const running = states.filter((state) => state === "running").length;
    if (runningScreenshot && !tookRunning && running >= 2 && states.includes("completed")) {
      await page.waitForTimeout(400); // colour transitions done, some text streamed
      await page.screenshot({ path: runningScreenshot, fullPage: true });
      tookRunning = true;
    }
    if (FINAL.includes(status) && seen.nodes.every((node) => node.state !== "running")) break;
    await page.waitForTimeout(40);
  }
  await page.waitForTimeout(400); // colour transitions, the last timeline frame, images loading
  await sample();
  await page.screenshot({ path: screenshot, fullPage: true });
  return {
    status,
    tookRunning,
    colours,
    streamed: [...streamed],
    timeline: await page.locator("#timeline .bar").count(),
    outputs: await page.locator("#outputs").innerText(),
    images: await page.locator("#outputs img").evaluateAll((images) => images.map((image) => image.naturalWidth)),
  };
});
process.stdout.write(JSON.stringify(answer));
