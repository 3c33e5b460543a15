// The streams list: status, mode, shards, retention and throughput sparklines (incoming
// and outgoing bytes over the last five minutes), refreshed every few seconds.

import { api, enc } from "./api.js";
import { el, fill, badge, errorText } from "./ui.js";
import { sparkline } from "./charts.js";
import { createStreamDialog } from "./actions.js";

const REFRESH_MS = 3000;
const SPARKLINES = 50;

async function metricsOf(name) {
  try {
    const m = await api("GET", `/v1/streams/${enc(name)}/metrics?period=10&minutes=5`);
    const values = (key) => (m.metrics[key] || []).map((p) => p.value);
    return { incoming: values("IncomingBytes"), outgoing: values("OutgoingBytes") };
  } catch {
    return { incoming: [], outgoing: [] };
  }
}

export function render(main) {
  const body = el("div", { id: "streams-table" }, el("p", { class: "muted" }, "Loading streams…"));
  const status = el("p", { class: "error", role: "alert" });
  const create = el("button", { type: "button", id: "create-stream" }, "Create stream");
  create.addEventListener("click", () => createStreamDialog((name) => { location.hash = `#/streams/${enc(name)}`; }));
  fill(main,
    el("div", { class: "row" }, el("h1", {}, "Streams"), el("span", { class: "spacer" }), create),
    status,
    el("section", { class: "panel", "aria-labelledby": "streams-h" },
      el("h2", { id: "streams-h" }, "All streams"), body));
  let timer = null;
  let alive = true;
  let shown = null;
  const load = async () => {
    try {
      const streams = [];
      let after = null;
      do {
        const page = await api("GET", `/v1/streams?limit=1000${after ? `&after=${enc(after)}` : ""}`);
        streams.push(...page.streams);
        after = page.next;
      } while (after && streams.length < 5000);
      // Sparklines for the first streams only, so a large account costs a bounded number
      // of metric calls per refresh.
      const metrics = await Promise.all(streams.map((s, i) =>
        i < SPARKLINES ? metricsOf(s.name) : { incoming: [], outgoing: [] }));
      if (!alive) return;
      status.textContent = "";
      // Same streams as on screen: swap only the sparklines, so focus and scroll stay.
      const shape = JSON.stringify(streams);
      if (shape === shown && streams.length) {
        streams.forEach((s, i) => {
          const row = body.querySelector(`tr[data-stream="${CSS.escape(s.name)}"]`);
          if (!row) return;
          row.querySelector(".spark-in").replaceChildren(sparkline(metrics[i].incoming, `${s.name} incoming bytes`));
          row.querySelector(".spark-out").replaceChildren(sparkline(metrics[i].outgoing, `${s.name} outgoing bytes`));
        });
      } else if (!streams.length) {
        fill(body, el("p", { class: "muted" }, "No streams yet. Create one with the button above, with the Kinesis API, or with a config."));
      } else {
        fill(body, el("div", { class: "scroll" }, el("table", {},
          el("thead", {}, el("tr", {},
            el("th", { scope: "col" }, "Name"), el("th", { scope: "col" }, "Status"),
            el("th", { scope: "col" }, "Mode"), el("th", { scope: "col", class: "num" }, "Open shards"),
            el("th", { scope: "col", class: "num hide-narrow" }, "Retention"),
            el("th", { scope: "col" }, "In (bytes, 5 min)"),
            el("th", { scope: "col", class: "hide-narrow" }, "Out (bytes, 5 min)"))),
          el("tbody", {}, streams.map((s, i) => el("tr", { "data-stream": s.name },
            el("td", {}, el("a", { href: `#/streams/${enc(s.name)}` }, s.name)),
            el("td", {}, badge(s.status)),
            el("td", {}, s.mode),
            el("td", { class: "num" }, s.open_shard_count),
            el("td", { class: "num hide-narrow" }, `${s.retention_hours} h`),
            el("td", { class: "spark-in" }, sparkline(metrics[i].incoming, `${s.name} incoming bytes`)),
            el("td", { class: "hide-narrow spark-out" }, sparkline(metrics[i].outgoing, `${s.name} outgoing bytes`))))))));
      }
      shown = shape;
    } catch (e) {
      if (alive) status.textContent = errorText(e);
    }
    if (alive) timer = setTimeout(load, REFRESH_MS);
  };
  load();
  return () => { alive = false; clearTimeout(timer); };
}
