// Security: principals with their roles and access keys, new principals and keys, and
// the audit log with filters. Needs weir:ManagePrincipals / weir:ReadAudit.

import { api, enc } from "./api.js";
import { el, fill, badge, table, time, errorText, field, select, formDialog, toast } from "./ui.js";

const ROLES = ["admin", "operator", "producer", "consumer", "viewer"];

function principalDialog(onDone) {
  formDialog({
    title: "New principal",
    submitLabel: "Create",
    fields: [
      field("Name", { name: "name", id: "principal-name", required: true, autocomplete: "off" }),
      select("Kind", { name: "kind", id: "principal-kind" }, [["user", "User"], ["service", "Service account"]]),
      select("Role", { name: "role", id: "principal-role" }, ROLES.map((r) => [r, r])),
      field("On streams matching (glob)", { name: "streams", id: "principal-streams", value: "*", required: true }),
    ],
    submit: async (form) => {
      const f = form.elements;
      await api("POST", "/v1/principals", { name: f.name.value.trim(), kind: f.kind.value,
        bindings: [{ role: f.role.value, streams: f.streams.value.trim() }] });
      toast(`Created ${f.name.value}.`);
      onDone();
    },
  });
}

function bindingsDialog(principal, onDone) {
  formDialog({
    title: `Roles of ${principal.name}`,
    fields: [
      field("Bindings, one per line: role and stream pattern (admin, operator, producer, consumer, viewer)",
        { tag: "textarea", name: "bindings", id: "bindings-text", rows: 5, spellcheck: "false" }),
    ],
    submit: async (form) => {
      const bindings = form.elements.bindings.value.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
        const [role, streams, extra] = line.split(/\s+/);
        if (!streams || extra) throw new Error(`Write "role pattern" on each line, e.g. "viewer orders-*"; got "${line}".`);
        return { role, streams };
      });
      await api("PUT", `/v1/principals/${enc(principal.name)}/bindings`, { bindings });
      toast(`Roles of ${principal.name} updated.`);
      onDone();
    },
  });
  document.getElementById("bindings-text").value = principal.bindings.map((b) => `${b.role} ${b.streams}`).join("\n");
}

function confirmDialog(title, text, label, action) {
  formDialog({ title, submitLabel: label, danger: true, fields: [el("p", {}, text)], submit: action });
}

async function newKey(name, box) {
  try {
    const key = await api("POST", `/v1/principals/${enc(name)}/keys`);
    fill(box, el("div", { class: "secret", role: "alert" },
      el("strong", {}, `New key for ${name} — the secret is shown only now: `),
      el("div", { class: "mono" }, `Access key id: ${key.access_key_id}`),
      el("div", { class: "mono" }, `Secret access key: ${key.secret_access_key}`)));
  } catch (e) {
    fill(box, el("p", { class: "error" }, errorText(e)));
  }
}

export function render(main) {
  const principalsBox = el("div", { id: "principals" }, el("p", { class: "muted" }, "Loading…"));
  const keyBox = el("div", {});
  const auditBox = el("div", { id: "audit" });
  const create = el("button", { type: "button", id: "create-principal" }, "New principal");
  const filters = el("form", { class: "row", id: "audit-filter" },
    field("Principal", { name: "principal", id: "audit-principal", size: 14 }),
    field("Action", { name: "action", id: "audit-action", size: 18, placeholder: "e.g. weir:WriteStreams" }),
    select("Result", { name: "result", id: "audit-result" },
      [["", "Any"], ["allowed", "allowed"], ["failed", "failed"], ["denied", "denied"], ["unauthenticated", "unauthenticated"]]),
    el("button", { type: "submit", class: "secondary" }, "Filter"));
  fill(main, el("h1", {}, "Security"),
    el("section", { class: "panel", "aria-labelledby": "principals-h" },
      el("div", { class: "row" }, el("h2", { id: "principals-h" }, "Principals, roles and keys"), el("span", { class: "spacer" }), create),
      keyBox, principalsBox),
    el("section", { class: "panel", "aria-labelledby": "audit-h" },
      el("h2", { id: "audit-h" }, "Audit log (newest first)"), filters, auditBox));

  const loadPrincipals = async () => {
    try {
      const { principals } = await api("GET", "/v1/principals");
      const link = (label, aria, onclick) => el("button", { type: "button", class: "link", "aria-label": aria, onclick }, label);
      fill(principalsBox, table("", ["Name", "Kind", "Roles", "Access keys", "Created", "Actions"],
        principals.map((p) => [p.name, p.kind,
          p.bindings.map((b) => `${b.role} on ${b.streams}`).join("; ") || "none",
          p.access_key_ids.length ? el("ul", { class: "plain" }, p.access_key_ids.map((id) => el("li", {},
            el("span", { class: "mono" }, id), " ",
            link("Revoke", `Revoke key ${id}`, () => confirmDialog(`Revoke ${id}?`,
              `Requests signed with this key, and tokens it gets from now on, are refused. ${p.name}'s other keys keep working.`,
              "Revoke key", async () => {
                await api("DELETE", `/v1/principals/${enc(p.name)}/keys/${enc(id)}`);
                toast(`Revoked ${id}.`);
                loadPrincipals();
              }))))) : "none",
          time(p.created_at_ms),
          el("div", { class: "actions" },
            link("New key", `New key for ${p.name}`, () => newKey(p.name, keyBox).then(loadPrincipals)),
            link("Roles", `Edit roles of ${p.name}`, () => bindingsDialog(p, loadPrincipals)),
            link("Delete", `Delete principal ${p.name}`, () => confirmDialog(`Delete ${p.name}?`,
              `${p.name}'s keys stop working and its tokens end at once.`, "Delete principal", async () => {
                await api("DELETE", `/v1/principals/${enc(p.name)}`);
                toast(`Deleted ${p.name}.`);
                loadPrincipals();
              })))])));
    } catch (e) {
      fill(principalsBox, el("p", { class: e.status === 400 ? "muted" : "error" }, errorText(e)));
      create.disabled = true;
    }
  };
  const loadAudit = async () => {
    const f = filters.elements;
    const q = new URLSearchParams({ limit: "100" });
    for (const k of ["principal", "action", "result"]) if (f[k].value.trim()) q.set(k, f[k].value.trim());
    try {
      const { events } = await api("GET", `/v1/audit?${q}`);
      fill(auditBox, table("", ["When", "Principal", "Action", "Resource", "Result", "Source", "Detail"],
        events.map((e) => [time(e.at_ms), e.principal, el("span", { class: "mono" }, e.action),
          el("span", { class: "mono" }, e.resource), badge(e.result), e.source, e.detail]), "No events match."));
    } catch (e) {
      fill(auditBox, el("p", { class: e.status === 400 ? "muted" : "error" }, errorText(e)));
    }
  };
  create.addEventListener("click", () => principalDialog(loadPrincipals));
  filters.addEventListener("submit", (e) => { e.preventDefault(); loadAudit(); });
  loadPrincipals();
  loadAudit();
}
