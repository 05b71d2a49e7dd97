// The run page: /runs/{id} follows a run (runEvents: its stored events, then live ones);
// /flows/{id} draws a flow and starts a run of it (runFlow). The graph is drawn where the editor
// put its nodes (graphData positions); each node takes its state's colour as events arrive.
(function () {
  "use strict";

  const TOKEN_KEY = "flow-backend.accessToken";
  const EVENT_FIELDS = `__typename runId seq at
    ... on RunStarted { flowId }
    ... on NodeStatusChanged { nodeId status }
    ... on NodeOutputDelta { nodeId delta }
    ... on NodeCompleted { nodeId output }
    ... on NodeFailed { nodeId error }
    ... on RunCompleted { outputs }
    ... on RunFailed { error }`;
  const RUN_EVENTS = `subscription RunEvents($runId: ID!) { runEvents(runId: $runId) { ${EVENT_FIELDS} } }`;
  const RUN_FLOW = `subscription RunFlow($input: RunInput!) { runFlow(input: $input) { ${EVENT_FIELDS} } }`;
  // With the catalog's names, to label nodes as the editor does.
  const RUN = "query RunPage($id: ID!) { run(id: $id) { id status flowId graphData } components { type name } }";
  const FLOW = "query FlowPage($id: ID!) { flow(id: $id) { id name graphData } components { type name } }";
  const NODE_WIDTH = 200;
  const PADDING = 24;
  const STREAM_TAIL = 600; // characters of streamed text kept under a node

  const $ = (id) => document.getElementById(id);
  const [, kind, objectId] = window.location.pathname.match(/^\/(runs|flows)\/([^/]+)/) || [];
  const client = new window.FlowClient.Client(window.location.origin, sessionStorage.getItem(TOKEN_KEY));
  let nodes = new Map(); // node id -> {element, stateLabel, stream, error, label, state, startedAt, endedAt}
  let runStartedAt = null;
  let stopSubscription = null;
  let sinks = new Set(); // nodes no edge leaves: the flow's results

  function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  function showError(message) {
    $("message").textContent = message;
  }

  function setRunState(state, label) {
    $("run-status").dataset.state = state;
    $("run-status").textContent = label || state;
  }

  // --- signing in ---------------------------------------------------------------------------

  function askToSignIn(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    client.token = null;
    $("view").hidden = true;
    $("sign-out").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    setRunState("idle", "signed out");
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await client.login(form.get("identifier"), form.get("password"));
    } catch (error) {
      $("login-error").textContent = error.message;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, client.token);
    $("login").hidden = true;
    open();
  });

  $("sign-out").addEventListener("click", () => {
    if (stopSubscription) stopSubscription();
    askToSignIn();
  });

  function failed(error) {
    if (error.code === "UNAUTHENTICATED") askToSignIn(error.message);
    else showError(error.message);
  }

  // --- the graph ----------------------------------------------------------------------------

  // Editor-only node types: the engine ignores them.
  const EDITOR_ONLY = new Set(["note", "group"]);

  function drawGraph(graphData, componentNames) {
    const graph = $("graph");
    graph.querySelectorAll(".node").forEach((old) => old.remove());
    nodes = new Map();
    const graphNodes = (graphData && graphData.nodes) || [];
    const xs = graphNodes.map((node) => (node.position && node.position.x) || 0);
    const ys = graphNodes.map((node) => (node.position && node.position.y) || 0);
    const left = Math.min(0, ...xs) - PADDING;
    const top = Math.min(0, ...ys) - PADDING;
    for (const node of graphNodes) {
      const box = element("div", "node");
      box.dataset.nodeId = node.id;
      box.dataset.state = "pending";
      if (EDITOR_ONLY.has(node.type)) {
        // A sticky note or a frame: drawn where the editor puts it, never run.
        box.dataset.state = "editor";
        box.style.left = ((node.position && node.position.x) || 0) - left + "px";
        box.style.top = ((node.position && node.position.y) || 0) - top + "px";
        const data = node.data || {};
        box.append(element("div", "title", data.label || data.text || node.type));
        graph.append(box);
        continue;
      }
      box.style.left = ((node.position && node.position.x) || 0) - left + "px";
      box.style.top = ((node.position && node.position.y) || 0) - top + "px";
      const data = node.data || {};
      const label = data.label || componentNames[node.type] || node.type;
      const stateLabel = element("span", "state", "pending");
      box.append(stateLabel, element("div", "title", label), element("div", "type", node.type + " · " + node.id));
      const stream = element("div", "stream");
      const error = element("div", "node-error");
      box.append(stream, error);
      graph.append(box);
      nodes.set(node.id, { element: box, stateLabel, stream, error, label, state: "pending", startedAt: null, endedAt: null });
    }
    const width = Math.max(...xs.map((x) => x - left + NODE_WIDTH + PADDING), 300);
    const height = Math.max(...ys.map((y) => y - top + 120 + PADDING), 160);
    graph.style.width = width + "px";
    graph.style.height = height + "px";
    // The whole flow in view, as the editor's "fit view" shows it.
    graph.style.zoom = Math.min(1, ($("graph-panel").clientWidth - 2) / width);
    const edges = (graphData && graphData.edges) || [];
    sinks = new Set(graphNodes.map((node) => node.id).filter((id) => !edges.some((edge) => edge.source === id)));
    drawEdges(edges);
    renderTimeline();
  }

  function drawEdges(edges) {
    const svg = $("edges");
    svg.replaceChildren();
    const graph = $("graph");
    svg.setAttribute("width", graph.style.width);
    svg.setAttribute("height", graph.style.height);
    for (const edge of edges) {
      const source = nodes.get(edge.source);
      const target = nodes.get(edge.target);
      if (!source || !target) continue;
      // From the middle of the source's right side to the middle of the target's left side,
      // as a bezier curve (the editor's default edge).
      const x1 = source.element.offsetLeft + source.element.offsetWidth;
      const y1 = source.element.offsetTop + 24;
      const x2 = target.element.offsetLeft;
      const y2 = target.element.offsetTop + 24;
      const bend = Math.max(40, Math.abs(x2 - x1) / 2);
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`);
      svg.append(path);
    }
  }

  // --- events -------------------------------------------------------------------------------

  function setNodeState(node, state) {
    node.state = state;
    node.element.dataset.state = state;
    node.stateLabel.textContent = state;
  }

  function applyEvent(event) {
    const at = Date.parse(event.at);
    const node = event.nodeId === undefined ? undefined : nodes.get(event.nodeId);
    switch (event.__typename) {
      case "RunStarted":
        runStartedAt = at;
        setRunState("running");
        showRunLink(event.runId);
        break;
      case "NodeStatusChanged": {
        if (!node) break;
        const state = event.status.toLowerCase();
        if (state === "running") node.startedAt = at;
        else if (state !== "pending") node.endedAt = at;
        setNodeState(node, state);
        break;
      }
      case "NodeOutputDelta":
        if (node) node.stream.textContent = (node.stream.textContent + event.delta).slice(-STREAM_TAIL);
        break;
      case "NodeCompleted":
        if (!node) break;
        node.endedAt = at;
        if (node.state !== "cached") setNodeState(node, "completed");
        break;
      case "NodeFailed":
        if (!node) break;
        node.endedAt = at;
        node.error.textContent = event.error;
        setNodeState(node, "failed");
        break;
      case "RunCompleted":
        setRunState("completed");
        renderOutputs(event.outputs);
        break;
      case "RunFailed":
        setRunState("failed");
        showError(event.error);
        break;
      case "RunCancelled":
        setRunState("cancelled");
        break;
    }
    scheduleTimeline();
  }

  function showRunLink(runId) {
    if (kind !== "flows") return;
    const link = $("run-link");
    link.href = "/runs/" + encodeURIComponent(runId);
    // A new tab: leaving this page would close its runFlow subscription, and so cancel the run.
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "run " + runId;
    link.hidden = false;
  }

  // --- timeline and outputs -------------------------------------------------------------------

  let timelinePending = false;
  function scheduleTimeline() {
    if (timelinePending) return;
    timelinePending = true;
    requestAnimationFrame(() => {
      timelinePending = false;
      renderTimeline();
    });
  }

  function renderTimeline() {
    const rows = [];
    const now = Date.now();
    const started = [...nodes.values()].filter((node) => node.startedAt !== null);
    const origin = runStartedAt !== null ? runStartedAt : Math.min(now, ...started.map((node) => node.startedAt));
    const end = Math.max(origin + 1, ...started.map((node) => node.endedAt !== null ? node.endedAt : now));
    for (const [nodeId, node] of nodes) {
      const lane = element("div", "lane");
      let duration = "";
      if (node.startedAt !== null) {
        const stop = node.endedAt !== null ? node.endedAt : now;
        const bar = element("div", "bar");
        bar.dataset.state = node.state;
        bar.style.left = ((node.startedAt - origin) / (end - origin)) * 100 + "%";
        bar.style.width = ((stop - node.startedAt) / (end - origin)) * 100 + "%";
        lane.append(bar);
        duration = ((stop - node.startedAt) / 1000).toFixed(2) + " s";
      }
      rows.push(element("div", "", node.label + " (" + nodeId + ")"), lane, element("div", "muted", duration));
    }
    $("timeline").replaceChildren(...rows);
  }

  function renderOutputs(outputs) {
    const blocks = [];
    for (const [nodeId, output] of Object.entries(outputs || {})) {
      if (!sinks.has(nodeId)) continue;
      const block = element("div", "output");
      const node = nodes.get(nodeId);
      block.append(element("strong", "", node ? node.label : nodeId));
      if (output && typeof output.text === "string") block.append(element("pre", "", output.text));
      for (const image of (output && output.images) || []) {
        if (!image || typeof image.url !== "string" || !/^(\/|https?:)/.test(image.url)) continue;
        const img = element("img");
        img.src = image.url;
        img.alt = "image from " + nodeId;
        block.append(img);
      }
      blocks.push(block);
    }
    $("outputs").replaceChildren(...(blocks.length ? blocks : [element("p", "muted", "None.")]));
  }

  // --- the page -----------------------------------------------------------------------------

  function follow(query, variables) {
    if (stopSubscription) stopSubscription();
    stopSubscription = client.subscribe(query, variables, {
      next: (data) => applyEvent(data.runEvents || data.runFlow),
      error: failed,
      complete: () => { stopSubscription = null; },
    });
  }

  async function open() {
    if (!kind) {
      showError("Open /runs/{run id} or /flows/{flow id}.");
      return;
    }
    if (!client.token) {
      askToSignIn();
      return;
    }
    $("login").hidden = true;
    $("view").hidden = false;
    $("sign-out").hidden = false;
    showError("");
    let data;
    try {
      data = await client.request(kind === "runs" ? RUN : FLOW, { id: objectId });
    } catch (error) {
      failed(error);
      return;
    }
    const componentNames = Object.fromEntries(data.components.map((component) => [component.type, component.name]));
    if (kind === "runs") {
      $("title").textContent = "Run " + data.run.id;
      drawGraph(data.run.graphData, componentNames);
      setRunState(data.run.status.toLowerCase());
      follow(RUN_EVENTS, { runId: data.run.id });
    } else {
      $("title").textContent = data.flow.name;
      drawGraph(data.flow.graphData, componentNames);
      setRunState("idle", "not started");
      $("start").hidden = false;
    }
  }

  $("start").addEventListener("click", () => {
    for (const node of nodes.values()) {
      setNodeState(node, "pending");
      node.stream.textContent = "";
      node.error.textContent = "";
      node.startedAt = node.endedAt = null;
    }
    runStartedAt = null;
    showError("");
    setRunState("running", "starting");
    follow(RUN_FLOW, { input: { flowId: objectId } });
  });

  open();
})();
