// One stream: live throughput and iterator-age charts (stream or one shard, polled every
// 2 s), the shard lineage graph, shards with placement, tiering state per segment,
// consumers, scaling events, and the actions.

import { api, enc } from "./api.js";
import { el, fill, badge, table, bytes, time, errorText } from "./ui.js";
import { lineChart, lineageGraph, sparkline, short } from "./charts.js";
import { scaleDialog, retentionDialog, modeDialog, deleteDialog } from "./actions.js";

const POLL_MS = 2000;
const WINDOWS = [["5", "Last 5 minutes", 5], ["30", "Last 30 minutes", 30], ["60", "Last hour", 60]];

/** Pct of the hash space where a key falls. */
function pct(key) {
  return `${(Number((BigInt(key) * 10000n) / 2n ** 128n) / 100).toFixed(2)}%`;
}

function series(metrics, key, period) {
  return (metrics[key] || []).map((p) => ({ t: p.timestamp_ms, v: p.value / period }));
}

export function render(main, name) {
  const state = { scope: "stream", window: "5", selected: null, stream: null, shards: [], cache: new Map() };
  const title = el("h1", {}, name);
  const stats = el("dl", { class: "stats" });
  const alert = el("p", { class: "error", role: "alert" });
  const charts = el("div", { id: "charts" }, el("p", { class: "muted" }, "Waiting for metrics…"));
  const scope = el("select", { id: "chart-scope", name: "scope" }, el("option", { value: "stream" }, "Whole stream"));
  const windowSel = el("select", { id: "chart-window", name: "window" },
    WINDOWS.map(([v, text]) => el("option", { value: v }, text)));
  scope.addEventListener("change", () => { state.scope = scope.value; tick(true); });
  windowSel.addEventListener("change", () => { state.window = windowSel.value; tick(true); });
  const lineage = el("div", { id: "lineage" });
  const shardsBox = el("div", { id: "shards" });
  const segmentsBox = el("div", { id: "segments" }, el("p", { class: "muted" }, "Select a shard in the lineage graph or the shard table."));
  const placementBox = el("div", { id: "placement" });
  const consumersBox = el("div", { id: "consumers" });
  const eventsBox = el("div", { id: "scaling-events" });
  const tieringBox = el("p", { class: "muted", id: "tiering" });
  const panel = (id, heading, ...content) =>
    el("section", { class: "panel", "aria-labelledby": id }, el("h2", { id }, heading), ...content);

  const reload = () => tick(true);
  const button = (label, id, action, cls = "secondary") =>
    el("button", { type: "button", id, class: cls, disabled: true, "data-needs-stream": true,
      onclick: () => state.stream && action(state.stream, reload) }, label);
  const actions = el("div", { class: "actions" },
    el("a", { class: "button", href: `#/streams/${enc(name)}/records`, id: "browse-records" }, "Browse records"),
    button("Scale", "action-scale", scaleDialog),
    button("Retention", "action-retention", retentionDialog),
    button("Mode", "action-mode", modeDialog),
    button("Delete", "action-delete", (s) => deleteDialog(s, () => { location.hash = "#/streams"; }), "danger"));

  fill(main,
    el("p", {}, el("a", { href: "#/streams" }, "← Streams")),
    title, actions, stats, alert,
    el("div", { class: "grid" },
      panel("charts-h", "Throughput and iterator age",
        el("div", { class: "row" }, el("label", {}, "Show", scope), el("label", {}, "Window", windowSel)),
        charts),
      panel("lineage-h", "Shard lineage",
        el("p", { class: "muted" }, "Parents on the left, children on the right; height is the share of the hash-key space."),
        lineage)),
    panel("shards-h", "Shards", shardsBox),
    el("div", { class: "grid" },
      panel("segments-h", "Tiering: segments of the selected shard", tieringBox, segmentsBox),
      panel("placement-h", "Placement", placementBox)),
    el("div", { class: "grid" },
      panel("consumers-h", "Consumers", consumersBox),
      panel("events-h", "Scaling events", eventsBox)));

  /** Re-renders `box` only when `data` changed, so focus and scroll survive polling. */
  const update = (box, key, data, build) => {
    const text = JSON.stringify(data);
    if (state.cache.get(key) === text) return;
    state.cache.set(key, text);
    fill(box, build(data));
  };

  const select = (shardId) => {
    const inGraph = lineage.contains(document.activeElement);
    const inTable = shardsBox.contains(document.activeElement);
    state.selected = shardId;
    state.cache.delete("lineage");
    state.cache.delete("shards");
    drawStatic();
    // Both are redrawn: keep the keyboard where it was.
    const sel = CSS.escape(shardId);
    if (inGraph) lineage.querySelector(`[data-shard-id="${sel}"]`)?.focus();
    if (inTable) shardsBox.querySelector(`[data-segments="${sel}"]`)?.focus();
    loadSegments();
  };

  const loadSegments = async () => {
    if (!state.selected) return;
    try {
      const list = await api("GET", `/v1/streams/${enc(name)}/shards/${enc(state.selected)}/segments`);
      fill(segmentsBox, table(`Segments of ${state.selected} known to the cold tier`,
        ["Base offset", { label: "Records", class: "num" }, { label: "Size", class: "num" }, "Generation", "State", "Written"],
        list.segments.map((s) => [s.base_offset, { td: short(s.records), attrs: { class: "num" } },
          { td: bytes(s.size_bytes), attrs: { class: "num" } }, s.generation, badge(s.state),
          `${time(s.first_timestamp_ms)} – ${time(s.last_timestamp_ms)}`]),
        `${state.selected} has no segment in the cold tier yet (sealed segments are uploaded when tiering is on; the open tail is local only).`));
    } catch (e) {
      fill(segmentsBox, el("p", { class: "error" }, errorText(e)));
    }
  };

  let placement = { shards: [] };
  let lastMetrics = null;
  const drawStatic = () => {
    const s = state.stream;
    if (!s) return;
    for (const b of actions.querySelectorAll("[data-needs-stream]")) b.disabled = false;
    fill(title, s.name, badge(s.status));
    update(stats, "stats", s, () => [
      ["Mode", s.mode], ["Open shards", s.open_shard_count], ["Retention", `${s.retention_hours} h`],
      ["Replication", s.replication_factor || "default"], ["Created", time(s.created_at_ms)],
    ].map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", { "data-stat": k }, v))));
    update(lineage, "lineage", { shards: state.shards, sel: state.selected }, () =>
      lineageGraph(state.shards, { selected: state.selected, onSelect: select }));
    const leaders = new Map(placement.shards.map((p) => [p.shard_id, p]));
    const perShard = new Map((lastMetrics ? lastMetrics.shards : []).map((m) => [m.shard_id, m.metrics]));
    const spark = (id) => sparkline(((perShard.get(id) || {}).IncomingBytes || []).map((p) => p.value), `${id} incoming bytes`);
    // Sparklines change every poll under traffic: swapped in place, so the table (and
    // the focus on its buttons) is rebuilt only when the shards or placement change.
    for (const cell of shardsBox.querySelectorAll("td[data-spark]")) cell.replaceChildren(spark(cell.dataset.spark));
    update(shardsBox, "shards", { shards: state.shards, placement, sel: state.selected }, () =>
      table("", ["Shard", "State", "Hash range", "Parents", "Leader", "Incoming bytes", ""],
        state.shards.map((sh) => [
          el("span", { class: "mono" }, sh.shard_id), badge(sh.open ? "open" : "closed"),
          `${pct(sh.starting_hash_key)} – ${pct(sh.ending_hash_key)}`,
          [sh.parent_shard_id, sh.adjacent_parent_shard_id].filter(Boolean).join(", ") || "–",
          leaders.has(sh.shard_id) ? leaders.get(sh.shard_id).leader : "this node",
          { td: spark(sh.shard_id), attrs: { "data-spark": sh.shard_id } },
          el("button", { type: "button", class: "link", "data-segments": sh.shard_id,
            "aria-label": `Segments of ${sh.shard_id}`, "aria-pressed": state.selected === sh.shard_id ? "true" : "false",
            onclick: () => select(sh.shard_id) }, "Segments"),
        ])));
    const ids = state.shards.map((sh) => sh.shard_id);
    update(scope, "scope", ids, () => [el("option", { value: "stream" }, "Whole stream"),
      ids.map((id) => el("option", { value: id }, id))]);
    scope.value = ids.includes(state.scope) ? state.scope : "stream";
    update(placementBox, "placement", placement, () => placement.shards.length
      ? table("", ["Shard", "Leader", "Replicas", "Rebuilding", { label: "Generation", class: "num" }],
        placement.shards.map((p) => [el("span", { class: "mono" }, p.shard_id), p.leader, p.replicas.join(", "),
          p.rebuilding.join(", ") || "–", { td: p.generation, attrs: { class: "num" } }]))
      : el("p", { class: "muted" }, "Every shard is served by the data plane in this process (no cluster placement)."));
  };

  const drawCharts = (m) => {
    const period = m.period_seconds;
    const source = state.scope === "stream" ? m.metrics
      : ((m.shards.find((x) => x.shard_id === state.scope) || {}).metrics || {});
    const label = state.scope === "stream" ? name : state.scope;
    fill(charts,
      el("div", { id: "chart-bytes" }, lineChart([
        { name: "Incoming", points: series(source, "IncomingBytes", period) },
        { name: "Outgoing", points: series(source, "OutgoingBytes", period) },
      ], { title: `${label}: bytes per second`, unit: "B/s" })),
      el("div", { id: "chart-records" }, lineChart([
        { name: "Incoming", points: series(source, "IncomingRecords", period) },
        { name: "Outgoing", points: series(source, "OutgoingRecords", period) },
      ], { title: `${label}: records per second`, unit: "/s", height: 150 })),
      el("div", { id: "chart-age" }, lineChart([
        { name: "Iterator age (max)", points: (source["GetRecords.IteratorAgeMilliseconds"] || []).map((p) => ({ t: p.timestamp_ms, v: p.value })) },
      ], { title: `${label}: GetRecords iterator age`, unit: "ms", height: 150 })));
  };

  let timer = null;
  let alive = true;
  let ticks = 0;
  const tick = async (now = false) => {
    clearTimeout(timer);
    try {
      const minutes = Number(state.window);
      const period = minutes === 5 ? 5 : minutes === 30 ? 30 : 60;
      const [stream, shards, metrics] = await Promise.all([
        api("GET", `/v1/streams/${enc(name)}`),
        api("GET", `/v1/streams/${enc(name)}/shards`),
        api("GET", `/v1/streams/${enc(name)}/metrics?period=${period}&minutes=${minutes}`),
      ]);
      if (!alive) return;
      state.stream = stream;
      state.shards = shards.shards;
      lastMetrics = metrics;
      if (now || ticks % 3 === 0) {
        const [p, consumers, events, tiering] = await Promise.all([
          api("GET", `/v1/streams/${enc(name)}/placement`).catch(() => ({ shards: [] })),
          api("GET", `/v1/streams/${enc(name)}/consumers`).catch(() => ({ consumers: [] })),
          api("GET", `/v1/streams/${enc(name)}/scaling-events?limit=50`).catch(() => ({ events: [] })),
          api("GET", `/v1/streams/${enc(name)}/tiering`).catch(() => null),
        ]);
        placement = p;
        update(consumersBox, "consumers", consumers, () => table("", ["Name", "Status", "Registered", "ARN"],
          consumers.consumers.map((c) => [c.name, badge(c.status), time(c.created_at_ms), el("span", { class: "mono" }, c.arn)]),
          "No registered (enhanced fan-out) consumers."));
        update(eventsBox, "events", events, () => table("", ["When", "Action", "Shards", "Reason"],
          events.events.map((e) => [time(e.at_ms), e.action, `${e.from_shards} → ${e.to_shards}`, e.reason]),
          "No scaling events (the autoscaler records its decisions for on-demand streams here)."));
        tieringBox.textContent = tiering
          ? `Local retention: ${tiering.local_retention_bytes != null ? bytes(tiering.local_retention_bytes) : "deployment default"}` +
            `${tiering.local_retention_ms != null ? `, ${Math.round(tiering.local_retention_ms / 60000)} min` : ""}.`
          : "";
        if (state.selected) loadSegments();
      }
      ticks++;
      alert.textContent = "";
      drawStatic();
      drawCharts(metrics);
    } catch (e) {
      if (!alive) return;
      if (e.status === 404) {
        fill(main, el("h1", {}, name), el("p", {}, `Stream ${name} does not exist (any more). `, el("a", { href: "#/streams" }, "Back to streams")));
        alive = false;
        return;
      }
      alert.textContent = errorText(e);
    }
    if (alive) timer = setTimeout(tick, POLL_MS);
  };
  tick(true);
  return () => { alive = false; clearTimeout(timer); };
}
