// Small DOM helpers shared by the pages.

/** Creates an element: el("td", {class: "num"}, "42", child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces a node's children. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A table from column headers and rows (arrays of cells); `empty` when no rows. */
export function table(caption, headers, rows, empty = "None.") {
  if (!rows.length) return el("p", { class: "muted" }, empty);
  return el("div", { class: "scroll" },
    el("table", {},
      caption ? el("caption", { class: "muted caption" }, caption) : null,
      el("thead", {}, el("tr", {}, headers.map((h) =>
        typeof h === "string" ? el("th", { scope: "col" }, h) : el("th", { scope: "col", class: h.class }, h.label)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) =>
        c && typeof c === "object" && "td" in c ? el("td", c.attrs || {}, c.td) : el("td", {}, c)))))));
}

export const badge = (text) => el("span", { class: `badge ${text}` }, text);

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function time(ms) {
  if (!ms) return "–";
  return new Date(ms).toLocaleString();
}

/** Shows a short message in the live region. */
export function toast(message) {
  const node = document.getElementById("toast");
  node.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.textContent = ""; }, 5000);
}

export function errorText(e) {
  return e && e.message ? `${e.code ? e.code + ": " : ""}${e.message}` : String(e);
}

/**
 * A modal dialog with a form. `fields` builds the form's content; `submit(form)` runs on
 * submit and closes the dialog when it resolves (its error is shown in the dialog).
 */
export function formDialog({ title, fields, submitLabel = "Save", danger = false, submit }) {
  const error = el("p", { class: "error", role: "alert" });
  const ok = el("button", { type: "submit", class: danger ? "danger" : "" }, submitLabel);
  const cancel = el("button", { type: "button", class: "secondary" }, "Cancel");
  const form = el("form", { method: "dialog" },
    el("h2", { id: "dialog-title" }, title), fields, error,
    el("div", { class: "buttons" }, cancel, ok));
  const dialog = el("dialog", { "aria-labelledby": "dialog-title" }, form);
  document.body.append(dialog);
  const opener = document.activeElement;
  const close = () => { dialog.close(); dialog.remove(); if (opener && opener.focus) opener.focus(); };
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    ok.disabled = true;
    error.textContent = "";
    try {
      await submit(form);
      close();
    } catch (err) {
      error.textContent = errorText(err);
      ok.disabled = false;
    }
  });
  dialog.showModal();
  const first = form.querySelector("input, select, textarea");
  (first || ok).focus();
  return dialog;
}

/** A labelled input: field("Retention (hours)", {name: "retention", type: "number"}). */
export function field(label, attrs) {
  return el("label", {}, label, el(attrs.tag || "input", { ...attrs, tag: undefined }));
}

/** A labelled select from [value, text] pairs. */
export function select(label, attrs, options) {
  return el("label", {}, label,
    el("select", attrs, options.map(([value, text]) => el("option", { value, selected: value === attrs.value }, text))));
}
