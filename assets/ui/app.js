// The reviewers' interface: a queue of clusters, a page per cluster and per account, decisions,
// and the enforcement export. Hash routes: #/queue, #/cluster/ID, #/account/ID, #/decisions,
// #/enforcement.

import { api, ApiError, badge, download, el, num, pvalue, score, short, signIn, signOut, token } from "./api.js";
import { hourBars, laneChart, tieGraph } from "./charts.js";

const main = document.getElementById("app");
const who = document.getElementById("who");
let me = null;

const can = (scope) => me && me.scopes.includes(scope);
const canDecide = () => can("review") || can("admin");
const seesPrompts = () => can("read");

async function whoami() {
  try {
    me = await api("/v1/me");
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    me = null;
  }
  who.replaceChildren(
    me
      ? el("span", {}, `${me.name} · ${me.scopes.join(", ")} `, el("button", { id: "sign-out", class: "link", onclick: () => { signOut(); me = null; route(); } }, "sign out"))
      : "",
  );
  return me;
}

function signInView(message) {
  const input = el("input", { id: "token", type: "password", placeholder: "paste a service token", autocomplete: "off", size: 40 });
  const form = el(
    "form",
    { id: "sign-in", class: "card", onsubmit: async (ev) => { ev.preventDefault(); signIn(input.value); if (await whoami()) route(); else signInView("That token is not valid."); } },
    el("h2", {}, "Sign in"),
    el("p", {}, "Use one of the service's tokens. It stays in this tab only (session storage). Prompt text is shown only with the read scope."),
    input,
    " ",
    el("button", { type: "submit", id: "sign-in-button" }, "Sign in"),
    message ? el("p", { class: "error" }, message) : null,
  );
  main.replaceChildren(form);
  input.focus();
}

function failed(e) {
  if (e instanceof ApiError && e.status === 401) return signInView("Please sign in.");
  main.replaceChildren(el("p", { class: "error" }, e.message || String(e)));
}

async function route() {
  const hash = location.hash || "#/queue";
  const [path, query = ""] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (!me && !(await whoami())) return signInView();
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", hash.startsWith(a.getAttribute("href"))));
  main.replaceChildren(el("p", { class: "muted" }, "Loading…"));
  try {
    if (parts[0] === "cluster" && parts[1]) await clusterView(parts[1]);
    else if (parts[0] === "account" && parts[1]) await accountView(parts[1]);
    else if (parts[0] === "decisions") await decisionsView();
    else if (parts[0] === "enforcement") await enforcementView();
    else await queueView(new URLSearchParams(query));
  } catch (e) {
    failed(e);
  }
}

// ---- The queue ---------------------------------------------------------------------------

async function queueView(params) {
  const page = await api("/v1/clusters?status=all&limit=1000");
  const status = params.get("status") || "open";
  const min = Number(params.get("min") || 0);
  const signal = params.get("signal") || "";
  const q = (params.get("q") || "").trim().toLowerCase();
  const signals = [...new Set(page.clusters.flatMap((c) => c.signals.filter((s) => s.contribution > 0).map((s) => s.name)))].sort();

  const matches = (c) => {
    if (!q) return true;
    return c.id.toLowerCase().includes(q) || c.accounts.some((a) => a.toLowerCase().includes(q)) || c.shared.some((s) => s.value.toLowerCase().includes(q));
  };
  const shown = page.clusters.filter(
    (c) =>
      (status === "all" || c.review.status === status) &&
      c.score >= min &&
      (!signal || c.signals.some((s) => s.name === signal && s.contribution > 0)) &&
      matches(c),
  );

  const set = (key, value) => {
    const p = new URLSearchParams(params);
    if (value === "" || value === null) p.delete(key);
    else p.set(key, value);
    location.hash = `#/queue?${p}`;
  };
  const select = (id, value, options, key) =>
    el("select", { id, onchange: (e) => set(key, e.target.value) }, options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
  const search = el("input", { id: "search", type: "search", placeholder: "account, IP, network or payment fingerprint", value: params.get("q") || "", size: 36 });
  const filters = el(
    "form",
    { class: "filters", onsubmit: (e) => { e.preventDefault(); set("q", search.value.trim()); } },
    el("label", {}, "Status ", select("status", status, [["open", "to review"], ["confirmed", "confirmed"], ["dismissed", "dismissed"], ["all", "all"]], "status")),
    el("label", {}, "Minimum score ", el("input", { id: "min-score", type: "number", min: 0, max: 1, step: 0.05, value: min, onchange: (e) => set("min", e.target.value) })),
    el("label", {}, "Signal ", select("signal", signal, [["", "any"], ...signals.map((s) => [s, s.replaceAll("_", " ")])], "signal")),
    search,
    el("button", { type: "submit" }, "Search"),
  );

  const rows = shown.map((c) =>
    el(
      "tr",
      { "data-id": c.id },
      el("td", {}, el("span", { class: "score" }, score(c.score)), scoreBar(c.score)),
      el("td", {}, el("a", { href: `#/cluster/${encodeURIComponent(c.id)}`, class: "cluster-link" }, c.id)),
      el("td", { class: "num" }, num(c.size)),
      el("td", { class: "num" }, num(c.requests)),
      el("td", {}, short(c.first_seen)),
      el("td", {}, short(c.last_seen)),
      el("td", {}, c.strongest),
      el("td", {}, badge(c.review.status), c.review.grew_from ? el("span", { class: "muted" }, ` grew from ${c.review.grew_from}`) : null,
        c.review.related.map((r) => el("div", { class: "muted small" }, `${r.accounts} from ${r.status} ${r.cluster_id}`))),
    ),
  );
  const accountHint =
    q && !shown.length ? el("p", {}, "No cluster matches. ", el("a", { href: `#/account/${encodeURIComponent(params.get("q").trim())}` }, `Open account ${params.get("q").trim()}`)) : null;

  const detect = can("read") || can("admin")
    ? el("button", { id: "detect", onclick: async () => { await api("/v1/detect", { method: "POST" }); route(); } }, "Run detection now")
    : null;
  main.replaceChildren(
    el("section", { id: "queue" },
      el("div", { class: "head" },
        el("h1", {}, "Clusters"),
        el("p", { class: "muted" }, page.detected_at ? `Detected ${short(page.detected_at)} UTC over ${num(page.stats.records_accepted)} requests from ${num(page.stats.accounts)} accounts · ${shown.length} of ${page.clusters.length} shown ` : "No detection run yet. ", detect),
      ),
      filters,
      shown.length
        ? el("table", { class: "queue" },
            el("thead", {}, el("tr", {}, ["score", "cluster", "accounts", "requests", "first seen", "last seen", "strongest signals", "review"].map((h) => el("th", {}, h)))),
            el("tbody", {}, rows))
        : el("p", { class: "muted" }, "No clusters match."),
      accountHint,
    ),
  );
}

// ---- A cluster ---------------------------------------------------------------------------

async function clusterView(id) {
  const [c, activity, history] = await Promise.all([
    api(`/v1/clusters/${encodeURIComponent(id)}`),
    api(`/v1/clusters/${encodeURIComponent(id)}/activity`),
    api(`/v1/decisions?cluster_id=${encodeURIComponent(id)}`),
  ]);
  const r = c.review;
  const note = el("input", { id: "note", placeholder: "note (optional)", size: 40 });
  const decide = async (decision) => {
    await api("/v1/decisions", { method: "POST", body: { decision, cluster_id: c.id, note: note.value } });
    route();
  };
  const actions = canDecide()
    ? el("div", { class: "actions" },
        note, " ",
        r.status !== "confirmed" ? el("button", { id: "confirm", class: "danger", onclick: () => decide("confirm") }, "Confirm as campaign") : null, " ",
        r.status !== "dismissed" ? el("button", { id: "dismiss", onclick: () => decide("dismiss") }, "Dismiss as legitimate") : null, " ",
        r.status !== "open" ? el("button", { id: "reopen", onclick: () => decide("reopen") }, "Reopen") : null)
    : el("p", { class: "muted" }, "Decisions need a token with the review or admin scope.");
  const decided = r.decision
    ? el("p", { id: "decision" }, `${verb(r.decision.decision)} by ${r.decision.by} at ${short(r.decision.at)} UTC`, r.decision.note ? ` — “${r.decision.note}”` : "", r.grew_from ? ` · it had ${r.grew_from} accounts then, ${c.size} now` : "")
    : null;

  const related = r.related.length
    ? el("p", { id: "related" }, "Accounts seen before in ", r.related.map((x, i) => [i ? ", " : "", el("a", { href: `#/cluster/${encodeURIComponent(x.cluster_id)}` }, x.cluster_id), ` (${x.status}, ${x.accounts} accounts)`]))
    : null;
  const allow = (s) =>
    canDecide() && ALLOWABLE.includes(s.attribute)
      ? el("button", { class: "small", title: "these values will no longer tie accounts", onclick: async () => { await api("/v1/decisions", { method: "POST", body: { decision: "allowlist", attribute: s.attribute, value: s.value, cluster_id: c.id } }); route(); } }, "allowlist")
      : null;

  main.replaceChildren(
    el("section", { id: "cluster" },
      el("div", { class: "head" },
        el("h1", {}, `Cluster ${c.id} `, badge(r.status)),
        el("p", {}, `score ${score(c.score)} · ${num(c.size)} accounts · ${num(c.requests)} requests · ${short(c.first_seen)} → ${short(c.last_seen)} UTC`),
        decided,
        related,
        actions,
      ),
      el("h2", {}, "Signals"),
      el("table", { class: "signals" },
        el("thead", {}, el("tr", {}, el("th", {}, "signal"), el("th", {}, "contribution"), el("th", {}, "why"))),
        el("tbody", {}, c.signals.map((s) => el("tr", {},
          el("td", {}, s.label),
          el("td", { class: "num" }, contributionBar(s.contribution)),
          el("td", {}, s.detail))))),
      el("h2", {}, "Activity: hours with requests, per member"),
      el("p", { class: "muted" }, "Each row is an account, each mark an hour in which it made requests; above, how many members were active. Columns shared by many rows are load spread over accounts; a staircase is accounts taking over from one another."),
      el("div", { class: "scroll" }, laneChart(activity)),
      el("h2", {}, "What ties the accounts"),
      activity.ties.length
        ? el("div", { class: "scroll" }, tieGraph(activity, { onAccount: (a) => (location.hash = `#/account/${encodeURIComponent(a)}`) }))
        : el("p", { class: "muted" }, "No shared attribute values among the listed members."),
      el("h2", {}, "Shared attributes"),
      el("table", { class: "shared" },
        el("thead", {}, el("tr", {}, ["attribute", "value", "members", "in the population", "chance among unrelated accounts", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, c.shared.map((s) => el("tr", {},
          el("td", {}, s.attribute.replaceAll("_", " ")),
          el("td", { class: "value" }, s.value),
          el("td", { class: "num" }, `${s.members} of ${c.size}`),
          el("td", { class: "num" }, num(s.population)),
          el("td", { class: "num" }, pvalue(s.p_value)),
          el("td", {}, allow(s)))))),
      el("h2", {}, "Example prompts by template"),
      examples(c.examples),
      el("h2", {}, "Members"),
      el("table", { class: "members" },
        el("thead", {}, el("tr", {}, ["account", "requests", "first seen", "last seen"].map((h) => el("th", {}, h)))),
        el("tbody", {}, c.members.map((m) => el("tr", {},
          el("td", {}, el("a", { href: `#/account/${encodeURIComponent(m.account_id)}` }, m.account_id)),
          el("td", { class: "num" }, num(m.requests)),
          el("td", {}, short(m.first_seen)),
          el("td", {}, short(m.last_seen)))))),
      c.members.length < c.size ? el("p", { class: "muted" }, `The ${c.members.length} busiest of ${c.size} accounts are listed.`) : null,
      el("h2", {}, "Decisions on this cluster"),
      history.decisions.length
        ? el("ul", { class: "history" }, history.decisions.map((d) => el("li", {}, `${short(d.at)} UTC · ${d.by} · ${verb(d.decision)}${d.attribute ? ` ${d.attribute} ${d.value}` : ""}${d.note ? ` — “${d.note}”` : ""}`)))
        : el("p", { class: "muted" }, "None yet."),
    ),
  );
}

function scoreBar(s) {
  const bar = el("span", { class: "bar pos" });
  bar.style.width = `${Math.round(s * 60)}px`;
  return el("span", { class: "scorebar" }, bar);
}

const ALLOWABLE = ["ip", "network", "asn", "user_agent", "tls_fingerprint", "payment_fingerprint", "email_domain", "org_id"];

const verb = (d) => ({ confirm: "Confirmed as a campaign", dismiss: "Dismissed as legitimate", reopen: "Reopened", allowlist: "Allowlisted", unallowlist: "Taken off the allowlist" })[d] || d;

function contributionBar(c) {
  const bar = el("span", { class: `bar ${c < 0 ? "neg" : "pos"}` });
  bar.style.width = `${Math.min(Math.abs(c), 4) * 18}px`;
  return el("span", { class: "contribution" }, bar, ` ${c > 0 ? "+" : ""}${c.toFixed(1)}`);
}

/** Prompts grouped by their first four words, the way templates begin. */
function examples(list) {
  if (!seesPrompts()) return el("p", { class: "redacted" }, "[prompt text: needs the read scope]");
  if (!list.length) return el("p", { class: "muted" }, "No examples.");
  const groups = new Map();
  for (const e of list) {
    const key = e.split(/\s+/).slice(0, 4).join(" ");
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(e);
  }
  return el("div", { class: "examples" }, [...groups].map(([key, items]) =>
    el("details", { open: true }, el("summary", {}, `«${key} …» (${items.length})`), items.map((t) => el("pre", {}, t)))));
}

// ---- An account --------------------------------------------------------------------------

async function accountView(id) {
  const a = await api(`/v1/accounts/${encodeURIComponent(id)}`);
  const hours = (a.activity?.active_hours || []).map((t) => Date.parse(t) / 3_600_000);
  const start = hours.length ? hours[0] : 0;
  const lane = {
    start: new Date(start * 3_600_000).toISOString(),
    hours: hours.length ? hours[hours.length - 1] - start + 1 : 1,
    members: [{ account_id: a.account_id, requests: a.requests, first_seen: a.first_seen, last_seen: a.last_seen, active_hours: hours.map((h) => h - start) }],
  };
  main.replaceChildren(
    el("section", { id: "account" },
      el("div", { class: "head" },
        el("h1", {}, `Account ${a.account_id}`),
        el("p", {}, `${num(a.requests)} requests · ${short(a.first_seen)} → ${short(a.last_seen)} UTC · own traffic scores ${score(a.score)}`),
        a.cluster
          ? el("p", {}, "In cluster ", el("a", { href: `#/cluster/${encodeURIComponent(a.cluster.id)}` }, a.cluster.id), ` (${a.cluster.size} accounts, score ${score(a.cluster.score)}) `, badge(a.cluster.status))
          : el("p", { class: "muted" }, "Not in a flagged cluster."),
      ),
      el("h2", {}, "Its own signals"),
      a.signals.length
        ? el("table", { class: "signals" }, el("tbody", {}, a.signals.map((s) => el("tr", {}, el("td", {}, s.label), el("td", { class: "num" }, contributionBar(s.contribution)), el("td", {}, s.detail)))))
        : el("p", { class: "muted" }, "None."),
      el("h2", {}, "Timeline"),
      el("div", { class: "scroll" }, laneChart(lane, { id: "account-timeline" })),
      a.activity ? el("div", {}, el("h3", {}, "Requests by hour of day (UTC)"), hourBars(a.activity.hours_of_day)) : null,
      el("h2", {}, "Example prompts"),
      examples(a.examples),
    ),
  );
}

// ---- Decisions and the allowlist ---------------------------------------------------------

async function decisionsView() {
  const { decisions, allowlist } = await api("/v1/decisions");
  const attr = el("select", { id: "allow-attribute" }, ALLOWABLE.map((a) => el("option", { value: a }, a.replaceAll("_", " "))));
  const value = el("input", { id: "allow-value", placeholder: "e.g. 203.0.113.0/24", size: 30 });
  const note = el("input", { placeholder: "note (optional)", size: 30 });
  const post = async (body) => { await api("/v1/decisions", { method: "POST", body }); route(); };
  main.replaceChildren(
    el("section", { id: "decisions" },
      el("h1", {}, "Allowlist"),
      el("p", { class: "muted" }, "Allowlisted values (a company's egress network, a reseller's shared payment processor…) no longer tie accounts together, from the next detection run."),
      allowlist.length
        ? el("table", {}, el("tbody", {}, allowlist.map((x) => el("tr", {}, el("td", {}, x.attribute.replaceAll("_", " ")), el("td", { class: "value" }, x.value),
            el("td", {}, canDecide() ? el("button", { class: "small", onclick: () => post({ decision: "unallowlist", attribute: x.attribute, value: x.value }) }, "remove") : null)))))
        : el("p", { class: "muted" }, "Nothing is allowlisted."),
      canDecide()
        ? el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); post({ decision: "allowlist", attribute: attr.value, value: value.value, note: note.value }).catch(failedInline(e.target)); } }, attr, value, note, el("button", { type: "submit" }, "Allowlist"))
        : null,
      el("h1", {}, "Every decision"),
      decisions.length
        ? el("table", {},
            el("thead", {}, el("tr", {}, ["when (UTC)", "who", "decision", "on", "note"].map((h) => el("th", {}, h)))),
            el("tbody", {}, [...decisions].reverse().map((d) => el("tr", {},
              el("td", {}, short(d.at)), el("td", {}, d.by), el("td", {}, verb(d.decision)),
              el("td", {}, d.cluster_id ? el("a", { href: `#/cluster/${encodeURIComponent(d.cluster_id)}` }, `${d.cluster_id} (${d.members.length} accounts)`) : `${d.attribute} ${d.value}`),
              el("td", {}, d.note)))))
        : el("p", { class: "muted" }, "None yet."),
    ),
  );
}

const failedInline = (form) => (e) => form.append(el("p", { class: "error" }, e.message));

// ---- Enforcement -------------------------------------------------------------------------

async function enforcementView() {
  const x = await api("/v1/enforcement");
  const save = async (format) => {
    const text = await api(`/v1/enforcement?format=${format}`, { raw: true });
    download(`enforcement.${format}`, text, format === "csv" ? "text/csv" : "application/json");
  };
  main.replaceChildren(
    el("section", { id: "enforcement" },
      el("h1", {}, "Enforcement"),
      el("p", {}, `${x.clusters} confirmed clusters · ${x.accounts.length} accounts · ${x.indicators.length} indicators `,
        el("button", { onclick: () => save("csv") }, "Download CSV"), " ", el("button", { onclick: () => save("json") }, "Download JSON")),
      el("h2", {}, "Indicators other providers can match"),
      x.indicators.length
        ? el("table", {}, el("thead", {}, el("tr", {}, ["kind", "value", "members", "in the population", "cluster"].map((h) => el("th", {}, h)))),
            el("tbody", {}, x.indicators.map((i) => el("tr", {}, el("td", {}, i.kind.replaceAll("_", " ")), el("td", { class: "value" }, i.value), el("td", { class: "num" }, i.members), el("td", { class: "num" }, i.population),
              el("td", {}, el("a", { href: `#/cluster/${encodeURIComponent(i.cluster_id)}` }, i.cluster_id))))))
        : el("p", { class: "muted" }, "None yet."),
      seesPrompts() ? null : el("p", { class: "muted" }, "Prompt templates are listed only with the read scope."),
      el("h2", {}, "Accounts"),
      x.accounts.length
        ? el("table", {}, el("tbody", {}, x.accounts.map((a) => el("tr", {}, el("td", {}, el("a", { href: `#/account/${encodeURIComponent(a.account_id)}` }, a.account_id)), el("td", {}, a.cluster_id), el("td", {}, `${short(a.confirmed_at)} by ${a.confirmed_by}`)))))
        : el("p", { class: "muted" }, "None yet."),
    ),
  );
}

window.addEventListener("hashchange", route);
route();
