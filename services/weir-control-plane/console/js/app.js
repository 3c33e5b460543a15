// The console's shell: login, navigation and a hash router (#/streams, #/streams/NAME,
// #/streams/NAME/records, #/nodes, #/security, #/config). Each page's render(main, ...)
// may return a function that stops what it started (polling timers).

import { api, login, logout, principal, token } from "./api.js";
import { el, fill, errorText } from "./ui.js";
import * as streams from "./streams.js";
import * as stream from "./stream.js";
import * as records from "./records.js";
import * as nodes from "./nodes.js";
import * as security from "./security.js";
import * as config from "./config.js";

const main = document.getElementById("main");
let authRequired = false;
let stop = null;

const routes = [
  [/^\/streams\/?$/, "streams", "Streams", streams.render],
  [/^\/streams\/([^/]+)\/records$/, "streams", "Records", records.render],
  [/^\/streams\/([^/]+)$/, "streams", "Stream", stream.render],
  [/^\/nodes$/, "nodes", "Nodes", nodes.render],
  [/^\/security$/, "security", "Security", security.render],
  [/^\/config$/, "config", "Config", config.render],
];

function loginPage() {
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", {},
    el("label", {}, "Access key id",
      el("input", { name: "id", id: "login-id", autocomplete: "username", required: true, spellcheck: "false" })),
    el("label", {}, "Secret access key",
      el("input", { name: "secret", id: "login-secret", type: "password", autocomplete: "current-password", required: true })),
    error,
    el("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await login(form.elements.id.value.trim(), form.elements.secret.value);
      showWho();
      const back = sessionStorage.getItem("weir.after-login") || "#/streams";
      sessionStorage.removeItem("weir.after-login");
      if (location.hash === back) route();
      else location.hash = back;
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  fill(main, el("section", { class: "panel login" },
    el("h1", {}, "Log in to Weir"),
    el("p", { class: "muted" }, "Use an access key issued by Weir (the administrator's key is printed when the server first starts with authentication on). The console gets a token that lasts one hour and keeps it for this tab only."),
    form));
  document.title = "Log in · Weir";
  form.elements.id.focus();
}

function showWho() {
  const who = document.getElementById("who");
  who.hidden = !authRequired || !token();
  document.getElementById("principal").textContent = principal() ? `Signed in as ${principal()}` : "";
}

function route() {
  if (stop) { try { stop(); } catch { /* a page's cleanup must not block navigation */ } stop = null; }
  const path = (location.hash || "#/streams").slice(1);
  if (authRequired && !token()) {
    if (path !== "/login") sessionStorage.setItem("weir.after-login", `#${path}`);
    loginPage();
    return;
  }
  for (const [pattern, section, title, render] of routes) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.section === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const params = match.slice(1).map(decodeURIComponent);
    document.title = `${params[0] ? params[0] + " · " : ""}${title} · Weir`;
    main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    try {
      const cleanup = render(main, ...params);
      if (cleanup && typeof cleanup.then === "function") {
        cleanup.then((f) => { if (typeof f === "function") stop = f; })
          .catch((e) => fill(main, el("p", { class: "error", role: "alert" }, errorText(e))));
      } else if (typeof cleanup === "function") {
        stop = cleanup;
      }
    } catch (e) {
      fill(main, el("p", { class: "error", role: "alert" }, errorText(e)));
    }
    return;
  }
  location.hash = "#/streams";
}

async function start() {
  if (!token()) {
    // Is authentication on? Ask the token endpoint with an empty body: it says so when
    // authentication is off, and otherwise refuses the body without an audit entry
    // (a probe of a protected route would log an unauthenticated call per page load).
    try {
      await api("POST", "/v1/auth/token", {}, { anonymous: true });
    } catch (e) {
      authRequired = !/Authentication is off/.test(e.message || "");
    }
  } else {
    authRequired = true;
  }
  document.getElementById("logout").addEventListener("click", () => {
    logout();
    showWho();
    if (location.hash === "#/login") route();
    else location.hash = "#/login";
  });
  window.addEventListener("weir:login-needed", () => { authRequired = true; showWho(); route(); });
  window.addEventListener("hashchange", () => { route(); main.focus({ preventScroll: true }); });
  showWho();
  route();
}

start();
