// Hand-drawn SVG: sparklines, line charts and the shard lineage graph. Each chart keeps
// its numbers in data- attributes (data-sum, data-points) so tests can read what it shows.

const NS = "http://www.w3.org/2000/svg";
const COLORS = ["var(--s1)", "var(--s2)", "var(--s3)", "var(--s4)"];

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return node;
}

/** Short numbers: 1.2k, 3.4M. */
export function short(n) {
  const v = Number(n);
  if (!Number.isFinite(v)) return "0";
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return a >= 10 || a === 0 ? String(Math.round(v)) : v.toFixed(1);
}

/** A small line of `values` (numbers), labelled for screen readers. */
export function sparkline(values, label) {
  const w = 120;
  const h = 28;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
  const sum = values.reduce((a, b) => a + b, 0);
  return svg("svg", {
    class: "spark", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": `${label}: ${short(sum)} in the window`,
    "data-sum": sum, "data-points": values.join(","), preserveAspectRatio: "none",
  },
  svg("title", {}, `${label}: ${short(sum)} in the window`),
  values.length
    ? svg("polyline", { points: points.join(" "), fill: "none", stroke: "var(--s1)", "stroke-width": 1.5 })
    : svg("line", { x1: 0, x2: w, y1: h - 2, y2: h - 2, stroke: "var(--line)" }));
}

/**
 * A line chart of several series over time: `series` is [{name, points: [{t, v}]}].
 * `unit` formats the y axis (values are per second when `perSecond` is set by the caller).
 */
export function lineChart(series, { title, unit = "", height = 180 } = {}) {
  const w = 560;
  const h = height;
  const m = { l: 66, r: 12, t: 10, b: 24 };
  const all = series.flatMap((s) => s.points);
  const t0 = Math.min(...all.map((p) => p.t), Date.now() - 60_000);
  const t1 = Math.max(...all.map((p) => p.t), t0 + 1);
  const max = Math.max(1, ...all.map((p) => p.v));
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (w - m.l - m.r);
  const y = (v) => h - m.b - (v / max) * (h - m.t - m.b);
  const sum = all.reduce((a, p) => a + p.v, 0);
  const root = svg("svg", {
    class: "chart", viewBox: `0 0 ${w} ${h}`, role: "img",
    "aria-label": `${title}: latest ${series.map((s) => `${s.name} ${withUnit(last(s.points), unit)}`).join(", ")}`,
    "data-sum": sum,
    "data-points": series.map((s) => s.points.map((p) => p.v).join(",")).join(";"),
  }, svg("title", {}, title));
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    root.append(
      svg("line", { class: "grid-line", x1: m.l, x2: w - m.r, y1: y(v), y2: y(v) }),
      svg("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, withUnit(v, unit)));
  }
  root.append(svg("line", { class: "axis", x1: m.l, x2: w - m.r, y1: h - m.b, y2: h - m.b }));
  for (const t of [t0, (t0 + t1) / 2, t1]) {
    root.append(svg("text", { x: x(t), y: h - 6, "text-anchor": t === t0 ? "start" : t === t1 ? "end" : "middle" },
      new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })));
  }
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 2,
      "data-series": s.name }));
  });
  const legend = document.createElement("div");
  legend.className = "legend";
  series.forEach((s, i) => {
    const item = document.createElement("span");
    item.style.setProperty("--c", COLORS[i % COLORS.length]);
    item.textContent = `${s.name}: ${withUnit(last(s.points), unit)}`;
    legend.append(item);
  });
  const figure = document.createElement("figure");
  figure.className = "chart";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  figure.append(caption, root, legend);
  return figure;
}

/** A value with its unit: bytes per second in binary units, milliseconds as seconds. */
export function withUnit(v, unit) {
  if (unit === "B/s") {
    const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
    let i = 0;
    let x = v;
    while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
    return `${x >= 10 || i === 0 ? Math.round(x) : x.toFixed(1)} ${units[i]}`;
  }
  if (unit === "ms") return v >= 1000 ? `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)} s` : `${Math.round(v)} ms`;
  return `${short(v)}${unit}`;
}

function last(points) {
  return points.length ? points[points.length - 1].v : 0;
}

const SPACE = 2n ** 128n;

/**
 * The shard lineage: one column per generation (a child is right of its parents), each
 * shard placed by its hash range (top = 0, bottom = 2^128), arrows from parents to
 * children. Shards are focusable; `onSelect(shardId)` runs on click or Enter.
 */
export function lineageGraph(shards, { selected, onSelect } = {}) {
  const byId = new Map(shards.map((s) => [s.shard_id, s]));
  const depth = new Map();
  const depthOf = (s, seen = new Set()) => {
    if (depth.has(s.shard_id)) return depth.get(s.shard_id);
    if (seen.has(s.shard_id)) return 0;
    seen.add(s.shard_id);
    const parents = [s.parent_shard_id, s.adjacent_parent_shard_id].filter((p) => p && byId.has(p));
    const d = parents.length ? 1 + Math.max(...parents.map((p) => depthOf(byId.get(p), seen))) : 0;
    depth.set(s.shard_id, d);
    return d;
  };
  shards.forEach((s) => depthOf(s));
  const columns = Math.max(1, ...[...depth.values()].map((d) => d + 1));
  const colW = 170;
  const boxW = 130;
  const w = Math.max(400, columns * colW + 20);
  const h = Math.max(160, Math.min(520, 60 + shards.length * 26));
  const frac = (key) => Number((BigInt(key) * 10000n) / SPACE) / 10000;
  const box = new Map();
  for (const s of shards) {
    const top = 10 + frac(s.starting_hash_key) * (h - 20);
    const bottom = 10 + frac(s.ending_hash_key) * (h - 20);
    const bh = Math.max(20, bottom - top - 3);
    const mid = (top + bottom) / 2;
    box.set(s.shard_id, { x: 10 + depth.get(s.shard_id) * colW, y: Math.min(h - 10 - bh, Math.max(10, mid - bh / 2)), h: bh });
  }
  const root = svg("svg", {
    class: "lineage", viewBox: `0 0 ${w} ${h}`, role: "group",
    "aria-label": `Shard lineage: ${shards.length} shards, ${shards.filter((s) => s.open).length} open`,
    "data-shards": shards.map((s) => s.shard_id).join(","),
    "data-edges": shards.flatMap((s) => [s.parent_shard_id, s.adjacent_parent_shard_id]
      .filter((p) => p && byId.has(p)).map((p) => `${p}>${s.shard_id}`)).join(","),
  });
  root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#57606a" }))));
  for (const s of shards) {
    for (const p of [s.parent_shard_id, s.adjacent_parent_shard_id]) {
      if (!p || !box.has(p)) continue;
      const a = box.get(p);
      const b = box.get(s.shard_id);
      const x1 = a.x + boxW;
      const y1 = a.y + a.h / 2;
      const x2 = b.x - 2;
      const y2 = b.y + b.h / 2;
      const cx = (x1 + x2) / 2;
      root.append(svg("path", { class: "edge", d: `M${x1},${y1} C${cx},${y1} ${cx},${y2} ${x2},${y2}`,
        "marker-end": "url(#arrow)" }));
    }
  }
  for (const s of shards) {
    const b = box.get(s.shard_id);
    const label = `${s.shard_id}, ${s.open ? "open" : "closed"}` +
      (s.parent_shard_id ? `, child of ${[s.parent_shard_id, s.adjacent_parent_shard_id].filter(Boolean).join(" and ")}` : "");
    const g = svg("g", {
      class: `shard ${s.open ? "open" : "closed"}${selected === s.shard_id ? " selected" : ""}`,
      tabindex: 0, role: "button", "aria-label": label, "data-shard-id": s.shard_id,
      "aria-pressed": selected === s.shard_id ? "true" : "false",
    },
    svg("title", {}, label),
    svg("rect", { x: b.x, y: b.y, width: boxW, height: b.h }),
    svg("text", { x: b.x + 8, y: b.y + Math.min(b.h / 2 + 4, 15) }, s.shard_id.replace("shardId-", "#").replace(/#0+(?=\d)/, "#")));
    if (b.h >= 34) {
      g.append(svg("text", { x: b.x + 8, y: b.y + 30 }, s.open ? "open" : "closed"));
    }
    const pick = () => onSelect && onSelect(s.shard_id);
    g.addEventListener("click", pick);
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); }
    });
    root.append(g);
  }
  return root;
}
