// Declarative configs: paste HCL or YAML, see the plan (POST /v1/plan), apply it
// (POST /v1/apply, whose answer streams one JSON event per line).

import { api, token } from "./api.js";
import { el, fill, field, errorText } from "./ui.js";

const EXAMPLE = `config_name = "console-example"

stream "orders" {
  shard_count     = 2
  retention_hours = 48
}
`;

export function render(main) {
  const error = el("p", { class: "error", role: "alert" });
  const planBox = el("div", { id: "plan", "aria-live": "polite" });
  const applyBox = el("div", { id: "apply-log", "aria-live": "polite" });
  const form = el("form", { id: "config-form" },
    field("File name (the extension picks the syntax: .hcl, or .yaml/.yml)", { name: "file", id: "config-file", value: "weir.hcl", required: true }),
    el("label", {}, "Config", el("textarea", { name: "content", id: "config-text", rows: 14, spellcheck: "false" }, EXAMPLE)),
    el("div", { class: "actions" },
      el("button", { type: "submit", id: "config-plan" }, "Plan"),
      el("button", { type: "button", id: "config-apply", class: "secondary", disabled: true }, "Apply this plan")),
    el("label", { class: "check" },
      el("input", { type: "checkbox", name: "approve", id: "config-approve" }),
      "I approve deletions, replacements and shorter retention in this plan"));
  let plan = null;
  const request = () => ({ files: [{ name: form.elements.file.value.trim(), content: form.elements.content.value }] });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    fill(applyBox);
    try {
      const answer = await api("POST", "/v1/plan", request());
      plan = answer.plan;
      fill(planBox,
        el("pre", { class: "plan" }, answer.rendered || "No changes."),
        answer.needs_approval.length ? el("p", { class: "error" }, `Needs approval: ${answer.needs_approval.join(", ")}`) : null);
      form.querySelector("#config-apply").disabled = !answer.has_changes;
    } catch (err) {
      plan = null;
      fill(planBox);
      form.querySelector("#config-apply").disabled = true;
      error.textContent = errorText(err);
    }
  });
  form.querySelector("#config-apply").addEventListener("click", async () => {
    if (!plan) return;
    error.textContent = "";
    const lines = el("ol", {});
    fill(applyBox, el("h2", {}, "Apply"), lines);
    const headers = { "Content-Type": "application/json" };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    try {
      const response = await fetch("/v1/apply", { method: "POST", headers,
        body: JSON.stringify({ plan, approve: form.elements.approve.checked }) });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw Object.assign(new Error((body.error && body.error.message) || response.statusText), { code: body.error && body.error.code });
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let at;
        while ((at = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, at).trim();
          buffer = buffer.slice(at + 1);
          if (!line) continue;
          const event = JSON.parse(line);
          lines.append(el("li", {}, `${event.event}: ${event.address || ""} ${event.message || event.action || event.code || ""}`.trim()));
        }
      }
      plan = null;
      form.querySelector("#config-apply").disabled = true;
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  fill(main, el("h1", {}, "Config"),
    el("section", { class: "panel", "aria-labelledby": "config-h" },
      el("h2", { id: "config-h" }, "Plan and apply a declarative config"),
      el("p", { class: "muted" }, "The same plan and apply as weir plan / weir apply (see docs/CONFIG.md). Applying sends the plan you saw; the server refuses it if the streams changed since."),
      form, error),
    el("section", { class: "panel", "aria-labelledby": "plan-h" }, el("h2", { id: "plan-h" }, "Plan"), planBox, applyBox));
}
