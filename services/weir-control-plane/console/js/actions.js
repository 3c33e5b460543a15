// Changes to streams, each a dialog with labelled inputs and one REST call: create,
// scale (shard count), retention, mode, delete (confirmed by typing the name).

import { api, enc } from "./api.js";
import { el, field, select, formDialog, toast } from "./ui.js";

export function createStreamDialog(onCreated) {
  const shardCount = field("Shard count (provisioned)", { name: "shards", type: "number", min: 1, max: 10000, value: 1, id: "create-shards" });
  const mode = select("Capacity mode", { name: "mode", id: "create-mode" },
    [["PROVISIONED", "Provisioned (you choose the shards)"], ["ON_DEMAND", "On demand (shards follow the load)"]]);
  mode.querySelector("select").addEventListener("change", (e) => {
    shardCount.querySelector("input").disabled = e.target.value === "ON_DEMAND";
  });
  formDialog({
    title: "Create stream",
    submitLabel: "Create",
    fields: [
      field("Name", { name: "name", id: "create-name", required: true, pattern: "[a-zA-Z0-9_.\\-]{1,128}", autocomplete: "off",
        "aria-describedby": "create-name-help" }),
      el("small", { id: "create-name-help", class: "muted" }, "1–128 letters, digits, '_', '.' or '-'."),
      mode, shardCount,
      field("Retention (hours, 24–8760)", { name: "retention", type: "number", min: 24, max: 8760, value: 24, id: "create-retention" }),
    ],
    submit: async (form) => {
      const f = form.elements;
      const body = { name: f.name.value.trim(), mode: f.mode.value, retention_hours: Number(f.retention.value) };
      if (f.mode.value === "PROVISIONED") body.shard_count = Number(f.shards.value);
      const stream = await api("POST", "/v1/streams", body);
      toast(`Created ${stream.name}.`);
      onCreated(stream.name);
    },
  });
}

export function scaleDialog(stream, onDone) {
  formDialog({
    title: `Scale ${stream.name}`,
    submitLabel: "Scale",
    fields: [
      el("p", { class: "muted" }, `Now ${stream.open_shard_count} open shards. Uniform scaling splits and merges shards; a target from half to double the current count is allowed.`),
      field("Target shard count", { name: "count", type: "number", min: 1, max: 10000, value: stream.open_shard_count * 2, id: "scale-count", required: true }),
    ],
    submit: async (form) => {
      await api("PUT", `/v1/streams/${enc(stream.name)}/shard-count`, { shard_count: Number(form.elements.count.value) });
      toast(`Scaling ${stream.name} to ${form.elements.count.value} shards.`);
      onDone();
    },
  });
}

export function retentionDialog(stream, onDone) {
  formDialog({
    title: `Retention of ${stream.name}`,
    fields: [
      field("Retention (hours, 24–8760)", { name: "hours", type: "number", min: 24, max: 8760, value: stream.retention_hours, id: "retention-hours", required: true }),
    ],
    submit: async (form) => {
      await api("PUT", `/v1/streams/${enc(stream.name)}/retention`, { retention_hours: Number(form.elements.hours.value) });
      toast(`Retention of ${stream.name} is now ${form.elements.hours.value} hours.`);
      onDone();
    },
  });
}

export function modeDialog(stream, onDone) {
  const other = stream.mode === "PROVISIONED" ? "ON_DEMAND" : "PROVISIONED";
  formDialog({
    title: `Capacity mode of ${stream.name}`,
    submitLabel: "Change mode",
    fields: [
      select("Mode", { name: "mode", id: "mode-select" },
        [[other, other === "ON_DEMAND" ? "On demand" : "Provisioned"], [stream.mode, `${stream.mode === "ON_DEMAND" ? "On demand" : "Provisioned"} (current)`]]),
      el("p", { class: "muted" }, "Kinesis allows two mode changes per stream in 24 hours."),
    ],
    submit: async (form) => {
      await api("PUT", `/v1/streams/${enc(stream.name)}/mode`, { mode: form.elements.mode.value });
      toast(`${stream.name} is switching to ${form.elements.mode.value}.`);
      onDone();
    },
  });
}

export function deleteDialog(stream, onDone) {
  const dialog = formDialog({
    title: `Delete ${stream.name}?`,
    submitLabel: "Delete stream",
    danger: true,
    fields: [
      el("p", {}, "This deletes the stream and every record in it. It cannot be undone."),
      field(`Type the stream's name (${stream.name}) to confirm`, { name: "confirm", id: "delete-confirm", required: true, autocomplete: "off" }),
    ],
    submit: async (form) => {
      if (form.elements.confirm.value !== stream.name) {
        throw new Error("The name does not match; nothing was deleted.");
      }
      await api("DELETE", `/v1/streams/${enc(stream.name)}`);
      toast(`Deleted ${stream.name}.`);
      onDone();
    },
  });
  return dialog;
}
