// Inline SVG charts: a lane chart of members' active hours, and a graph of the accounts and the
// shared values that tie them. No libraries: both are small enough to lay out here.

import { svg, short } from "./api.js";

const HOUR_MS = 3_600_000;

export const ATTR_COLORS = {
  payment_fingerprint: "#c0392b",
  ip: "#2e86c1",
  network: "#1abc9c",
  asn: "#7f8c8d",
  tls_fingerprint: "#8e44ad",
  user_agent: "#d68910",
  email_domain: "#27ae60",
  org_id: "#34495e",
  system_prompt: "#b9770e",
};

/**
 * One lane per member, a mark for every hour with requests, members ordered by their first
 * active hour: accounts taking turns on one stream show as a staircase (succession), accounts
 * sharing the load as the same columns. Above, how many members were active each hour.
 */
export function laneChart(activity, { id = "timeline", maxLanes = 60 } = {}) {
  const hours = Math.max(1, activity.hours);
  const members = [...activity.members]
    .map((m) => ({ ...m, first: m.active_hours.length ? m.active_hours[0] : hours }))
    .sort((a, b) => a.first - b.first || a.account_id.localeCompare(b.account_id))
    .slice(0, maxLanes);
  const labelW = 150;
  const width = 860;
  const cell = (width - labelW) / hours;
  const row = members.length > 30 ? 9 : 13;
  const histH = 48;
  const top = histH + 22;
  const height = top + members.length * row + 6;
  const start = Date.parse(activity.start);

  const root = svg("svg", {
    id,
    class: "chart lanes",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": "requests per hour per member",
  });

  // Active members per hour.
  const counts = new Array(hours).fill(0);
  for (const m of members) for (const h of m.active_hours) if (h < hours) counts[h]++;
  const peak = Math.max(1, ...counts);
  const hist = svg("g", { class: "hist" });
  counts.forEach((n, h) => {
    if (!n) return;
    const bh = (n / peak) * histH;
    hist.append(
      svg(
        "rect",
        { x: labelW + h * cell, y: histH - bh, width: Math.max(cell - 0.5, 0.8), height: bh },
        svg("title", {}, `${short(iso(start + h * HOUR_MS))}: ${n} active members`),
      ),
    );
  });
  root.append(
    hist,
    svg("text", { x: labelW - 6, y: 12, class: "axis", "text-anchor": "end" }, `active (max ${peak})`),
  );

  // Day marks.
  const axis = svg("g", { class: "axis" });
  const firstMidnight = Math.ceil(start / (24 * HOUR_MS)) * 24 * HOUR_MS;
  for (let t = firstMidnight; t < start + hours * HOUR_MS; t += 24 * HOUR_MS) {
    const x = labelW + ((t - start) / HOUR_MS) * cell;
    axis.append(
      svg("line", { x1: x, x2: x, y1: 0, y2: height, class: "day" }),
      svg("text", { x: x + 3, y: histH + 14 }, short(iso(t)).slice(0, 5)),
    );
  }
  root.append(axis);

  const lanes = svg("g", { class: "lane-rows" });
  members.forEach((m, i) => {
    const y = top + i * row;
    const g = svg("g", { class: "lane" });
    g.append(
      svg("title", {}, `${m.account_id}: ${m.requests} requests, ${short(m.first_seen)} → ${short(m.last_seen)}`),
      svg("rect", { x: 0, y, width, height: row, class: i % 2 ? "band odd" : "band" }),
      svg("text", { x: labelW - 6, y: y + row - 3, "text-anchor": "end", class: "label" }, clip(m.account_id, 22)),
    );
    for (const h of m.active_hours) {
      if (h >= hours) continue;
      g.append(svg("rect", { x: labelW + h * cell, y: y + 1, width: Math.max(cell - 0.3, 1), height: row - 2, class: "cell" }));
    }
    lanes.append(g);
  });
  root.append(lanes);
  return root;
}

/**
 * Accounts (circles) and the shared values that tie them (squares, coloured by kind). The values
 * sit on an outer ring; each account is pulled toward the values it holds and pushed from the
 * other accounts, from a fixed start, so the same cluster draws the same way. Accounts that
 * share everything gather in the middle; a value only some hold pulls those aside.
 */
export function tieGraph(activity, { id = "graph", maxValues = 14, onAccount } = {}) {
  const width = 860;
  const height = 460;
  const ties = [...activity.ties].sort((a, b) => b.accounts.length - a.accounts.length).slice(0, maxValues);
  const accounts = activity.members.map((m) => m.account_id);
  const nodes = [];
  const index = new Map();
  accounts.forEach((a, i) => {
    const angle = (2 * Math.PI * i) / accounts.length;
    index.set(`a:${a}`, nodes.length);
    nodes.push({ kind: "account", label: a, x: width / 2 + 40 * Math.cos(angle), y: height / 2 + 40 * Math.sin(angle) });
  });
  const edges = [];
  ties.forEach((t, i) => {
    const angle = (2 * Math.PI * i) / ties.length - Math.PI / 2;
    const n = nodes.length;
    nodes.push({ kind: "value", fixed: true, attribute: t.attribute, label: t.value, holders: t.accounts.length, x: width / 2 + (width / 2 - 190) * Math.cos(angle), y: height / 2 + (height / 2 - 40) * Math.sin(angle) });
    // A value nearly every member holds says less about how they group than one a few share.
    const common = t.accounts.length >= 0.8 * accounts.length;
    for (const a of t.accounts) if (index.has(`a:${a}`)) edges.push([index.get(`a:${a}`), n, common]);
  });
  layout(nodes, edges, width, height);

  const root = svg("svg", { id, class: "chart graph", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "accounts and the values they share" });
  const lines = svg("g", { class: "edges" });
  for (const [a, b, common] of edges) {
    lines.append(svg("line", { x1: nodes[a].x, y1: nodes[a].y, x2: nodes[b].x, y2: nodes[b].y, stroke: ATTR_COLORS[nodes[b].attribute] || "#999", class: common ? "common" : "subset" }));
  }
  root.append(lines);
  const dots = svg("g", { class: "nodes" });
  for (const n of nodes) {
    if (n.kind === "account") {
      const c = svg("circle", { cx: n.x, cy: n.y, r: 5, class: "account" }, svg("title", {}, n.label));
      if (onAccount) c.addEventListener("click", () => onAccount(n.label));
      dots.append(c);
    } else {
      dots.append(
        svg(
          "g",
          { class: "value" },
          svg("rect", { x: n.x - 7, y: n.y - 7, width: 14, height: 14, fill: ATTR_COLORS[n.attribute] || "#555" }),
          n.x < width / 2
            ? svg("text", { x: n.x - 10, y: n.y + 4, "text-anchor": "end" }, clip(n.label, 24))
            : svg("text", { x: n.x + 10, y: n.y + 4 }, clip(n.label, 24)),
          svg("title", {}, `${n.attribute}: ${n.label} (${n.holders} accounts)`),
          svg("text", { x: n.x, y: n.y + 19, "text-anchor": "middle", class: "holders" }, n.holders),
        ),
      );
    }
  }
  root.append(dots);
  const kinds = [...new Set(ties.map((t) => t.attribute))];
  const legend = svg("g", { class: "legend" });
  kinds.forEach((k, i) => {
    legend.append(
      svg("rect", { x: 8, y: 8 + i * 16, width: 10, height: 10, fill: ATTR_COLORS[k] || "#555" }),
      svg("text", { x: 24, y: 17 + i * 16 }, k),
    );
  });
  root.append(legend);
  return root;
}

function layout(nodes, edges, width, height) {
  const movable = nodes.filter((n) => !n.fixed).length || 1;
  const k = Math.sqrt(((width - 380) * (height - 80)) / movable) * 0.7;
  for (let step = 0; step < 300; step++) {
    const heat = 6 * (1 - step / 300) + 0.3;
    const dx = new Float64Array(nodes.length);
    const dy = new Float64Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) {
      if (nodes[i].fixed) continue;
      for (let j = i + 1; j < nodes.length; j++) {
        if (nodes[j].fixed) continue;
        const x = nodes[i].x - nodes[j].x;
        const y = nodes[i].y - nodes[j].y;
        const f = ((k * k) / Math.max(x * x + y * y, 1)) * 0.015;
        dx[i] += x * f;
        dy[i] += y * f;
        dx[j] -= x * f;
        dy[j] -= y * f;
      }
    }
    for (const [a, b, common] of edges) {
      const pull = common ? 0.003 : 0.012;
      dx[a] += (nodes[b].x - nodes[a].x) * pull;
      dy[a] += (nodes[b].y - nodes[a].y) * pull;
    }
    nodes.forEach((n, i) => {
      if (n.fixed) return;
      dx[i] += (width / 2 - n.x) * 0.005;
      dy[i] += (height / 2 - n.y) * 0.005;
      const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) || 1;
      const m = Math.min(d, heat);
      // Inside the ring of values.
      n.x = Math.min(width - 225, Math.max(225, n.x + (dx[i] / d) * m));
      n.y = Math.min(height - 65, Math.max(65, n.y + (dy[i] / d) * m));
    });
  }
}

/** Requests by hour of day, 24 bars. */
export function hourBars(hours) {
  const width = 480;
  const height = 90;
  const peak = Math.max(1, ...hours);
  const w = width / 24;
  const root = svg("svg", { class: "chart bars", viewBox: `0 0 ${width} ${height + 14}`, width, height: height + 14, role: "img", "aria-label": "requests by hour of day" });
  hours.forEach((n, h) => {
    const bh = (n / peak) * height;
    root.append(
      svg("rect", { x: h * w + 1, y: height - bh, width: w - 2, height: bh }, svg("title", {}, `${h}:00 UTC: ${n} requests`)),
    );
    if (h % 3 === 0) root.append(svg("text", { x: h * w + 1, y: height + 12, class: "axis" }, `${h}h`));
  });
  return root;
}

const iso = (ms) => new Date(ms).toISOString();
const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
