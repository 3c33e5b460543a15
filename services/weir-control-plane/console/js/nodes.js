// Nodes: each data-plane node with its lease, what it leads and holds, disk and load
// (GET /v1/nodes), and the node pool when an orchestrator runs the nodes.

import { api } from "./api.js";
import { el, fill, badge, table, bytes, time, errorText } from "./ui.js";

const REFRESH_MS = 3000;

export function render(main) {
  const nodesBox = el("div", { id: "nodes" }, el("p", { class: "muted" }, "Loading…"));
  const poolBox = el("div", { id: "pool" });
  const error = el("p", { class: "error", role: "alert" });
  fill(main, el("h1", {}, "Nodes"), error,
    el("section", { class: "panel", "aria-labelledby": "nodes-h" }, el("h2", { id: "nodes-h" }, "Data-plane nodes"), nodesBox),
    el("section", { class: "panel", "aria-labelledby": "pool-h" }, el("h2", { id: "pool-h" }, "Node pool"), poolBox));
  let alive = true;
  let timer = null;
  const load = async () => {
    try {
      const { nodes } = await api("GET", "/v1/nodes");
      if (!alive) return;
      fill(nodesBox, table("", ["Node", "State", "Endpoint", { label: "Leads", class: "num" }, { label: "Replicas", class: "num" },
        { label: "Rebuilding", class: "num" }, "Disk free", { label: "Writes", class: "num" }],
      nodes.map((n) => [n.id, badge(n.drained ? "drained" : n.draining ? "draining" : n.live ? "live" : "dead"),
        el("span", { class: "mono" }, n.url), { td: n.leads, attrs: { class: "num" } }, { td: n.replicas, attrs: { class: "num" } },
        { td: n.rebuilding, attrs: { class: "num" } },
        n.disk_total_bytes ? `${bytes(n.disk_free_bytes)} of ${bytes(n.disk_total_bytes)}` : "–",
        { td: `${bytes(n.write_bytes_per_sec)}/s`, attrs: { class: "num" } }]),
      "No separate nodes: this deployment runs one process (weir up), whose data plane serves every shard. Start a cluster with weir up --nodes N to see nodes here."));
      try {
        const pool = await api("GET", "/v1/nodes/pool");
        fill(poolBox,
          el("p", {}, `Orchestrator: ${pool.orchestrator}. Between ${pool.policy.min_nodes} and ${pool.policy.max_nodes} nodes.`),
          table("Members", ["Node", "Ready", "Registered", "Terminating"],
            pool.members.map((m) => [m.node_id, m.ready ? "yes" : "no", m.registered ? "yes" : "no", m.terminating ? "yes" : "no"])),
          table("Recent decisions", ["When", "Action", "Nodes", "Reason"],
            pool.events.map((e) => [time(e.at_ms), e.action, `${e.from_nodes} → ${e.to_nodes}`, e.reason]), "No decisions yet."));
      } catch (e) {
        fill(poolBox, el("p", { class: "muted" }, e.status === 404 ? e.message : errorText(e)));
      }
      error.textContent = "";
    } catch (e) {
      if (alive) error.textContent = errorText(e);
    }
    if (alive) timer = setTimeout(load, REFRESH_MS);
  };
  load();
  return () => { alive = false; clearTimeout(timer); };
}
