// The record browser: peek at up to 100 records of one shard from TRIM_HORIZON, LATEST,
// a sequence number or a time (GET /v1/streams/NAME/shards/ID/records), payloads shown
// as text, JSON or hex.

import { api, enc } from "./api.js";
import { el, fill, time, errorText, field, select } from "./ui.js";

function decode(base64) {
  const raw = atob(base64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function hex(data) {
  const lines = [];
  for (let i = 0; i < data.length; i += 16) {
    const chunk = [...data.slice(i, i + 16)];
    const printable = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${i.toString(16).padStart(6, "0")}  ${chunk.map((b) => b.toString(16).padStart(2, "0")).join(" ").padEnd(47)}  ${printable}`);
  }
  return lines.join("\n");
}

/** The payload as the chosen format; JSON falls back to text with a note. */
export function show(base64, format) {
  const data = decode(base64);
  if (format === "hex") return hex(data);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(data);
  if (format === "json") {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return `(not JSON) ${text}`;
    }
  }
  return text;
}

export async function render(main, name) {
  const shards = (await api("GET", `/v1/streams/${enc(name)}/shards`)).shards;
  const result = el("div", { id: "records", "aria-live": "polite" });
  const error = el("p", { class: "error", role: "alert" });
  const params = new URLSearchParams(sessionStorage.getItem(`weir.records.${name}`) || "");
  const form = el("form", { class: "row", id: "records-form" },
    select("Shard", { name: "shard", id: "records-shard" }, shards.map((s) => [s.shard_id, `${s.shard_id}${s.open ? "" : " (closed)"}`])),
    select("Start at", { name: "from", id: "records-from" }, [
      ["TRIM_HORIZON", "Oldest (TRIM_HORIZON)"], ["LATEST", "Newest (LATEST)"],
      ["AT_SEQUENCE_NUMBER", "At a sequence number"], ["AFTER_SEQUENCE_NUMBER", "After a sequence number"],
      ["AT_TIMESTAMP", "At a time"]]),
    field("Sequence number", { name: "sequence", id: "records-sequence", inputmode: "numeric", pattern: "[0-9]{1,128}", size: 24 }),
    field("Time (local)", { name: "timestamp", id: "records-time", type: "datetime-local", step: 1 }),
    field("Records (1–100)", { name: "limit", id: "records-limit", type: "number", min: 1, max: 100, value: 25 }),
    el("fieldset", {}, el("legend", {}, "Show payload as"),
      ["text", "json", "hex"].map((f) => el("label", {}, el("input", { type: "radio", name: "format", value: f, checked: f === "text" }), f.toUpperCase()))),
    el("button", { type: "submit", id: "records-read" }, "Read"));
  const f = form.elements;
  if (params.get("shard") && shards.some((s) => s.shard_id === params.get("shard"))) f.shard.value = params.get("shard");
  const sync = () => {
    f.sequence.disabled = !f.from.value.endsWith("_SEQUENCE_NUMBER");
    f.timestamp.disabled = f.from.value !== "AT_TIMESTAMP";
  };
  f.from.addEventListener("change", sync);
  sync();
  let last = null;
  const draw = () => {
    if (!last) return;
    const format = f.format.value;
    if (!last.records.length) {
      fill(result, el("p", { class: "muted" }, f.from.value === "LATEST"
        ? "No records: LATEST starts after the newest record, so only records written from now on would show. Try Oldest."
        : "No records from there."));
      return;
    }
    const more = el("button", { type: "button", class: "secondary", id: "records-next", onclick: () => {
      f.from.value = "AFTER_SEQUENCE_NUMBER";
      f.sequence.value = last.last_sequence_number;
      sync();
      form.requestSubmit();
    } }, "Read on");
    fill(result, el("div", { class: "row" }, el("p", { class: "muted" }, `${last.records.length} records from ${last.shard_id}` +
      (last.millis_behind_latest ? `, ${last.millis_behind_latest} ms behind the tip` : ", up to the tip")),
    el("span", { class: "spacer" }), more),
    el("div", { class: "scroll" }, el("table", {},
      el("thead", {}, el("tr", {}, ["Sequence number", "Partition key", "Arrived", "Payload"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, last.records.map((r) => el("tr", { "data-sequence": r.sequence_number },
        el("td", { class: "mono" }, r.sequence_number), el("td", {}, r.partition_key),
        el("td", {}, time(r.approximate_arrival_ms)),
        el("td", {}, el("pre", { class: "payload mono" }, show(r.data, format)))))))));
  };
  for (const radio of form.querySelectorAll("input[name=format]")) radio.addEventListener("change", draw);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const q = new URLSearchParams({ from: f.from.value, limit: f.limit.value || "25" });
    if (f.from.value.endsWith("_SEQUENCE_NUMBER")) q.set("sequence", f.sequence.value.trim());
    if (f.from.value === "AT_TIMESTAMP") {
      const at = new Date(f.timestamp.value).getTime();
      if (!Number.isFinite(at)) { error.textContent = "Enter a time."; return; }
      q.set("timestamp", String(at));
    }
    sessionStorage.setItem(`weir.records.${name}`, new URLSearchParams({ shard: f.shard.value }).toString());
    fill(result, el("p", { class: "muted" }, "Reading…"));
    try {
      last = await api("GET", `/v1/streams/${enc(name)}/shards/${enc(f.shard.value)}/records?${q}`);
      draw();
    } catch (err) {
      last = null;
      fill(result);
      error.textContent = errorText(err);
    }
  });
  fill(main,
    el("p", {}, el("a", { href: `#/streams/${enc(name)}` }, `← ${name}`)),
    el("h1", {}, `Records of ${name}`),
    el("section", { class: "panel", "aria-labelledby": "records-h" },
      el("h2", { id: "records-h" }, "Peek at a shard"),
      el("p", { class: "muted" }, "Reads go through the Kinesis API with your permissions (kinesis:GetRecords); at most 100 records a read."),
      form, error),
    el("section", { class: "panel", "aria-labelledby": "records-result-h" },
      el("h2", { id: "records-result-h" }, "Records"), result));
}
