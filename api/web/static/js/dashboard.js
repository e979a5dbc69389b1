import { gql, subscribe } from "./api.js";
import { barChart, lineChart, shareBar } from "./charts.js";
import { $, band, compactMoney, failed, fill, h, label, money, percent, ready, signed, wireSignout } from "./dom.js";

const PORTFOLIO = `query($w: Int) { portfolio(top: 200, waitFor: $w) { rank accountId name owner tier score band confirmedBand
  delta7 delta30 trend disagreement renewalOn arr { amount currency } revenueAtRisk { amount currency } } }`;

const KPIS = `query($from: Date!, $to: Date!) { kpis(from: $from, to: $to) { arr { amount currency } revenueAtRisk90 { amount currency }
  revenueAtRisk180 { amount currency } watchArr { amount currency } grr nrr
  shareOfArrByBand { band share }
  revenueWeightedHealth { value coverage } revenueWeightedCsat { value coverage }
  revenueWeightedSlaAttainment { value coverage }
  waterfall { period flows { new { amount } resurrection { amount } expansion { amount }
    contraction { amount } churn { amount } } } } }`;

// Managers and admins handle alerts; the product role reads the portfolio without them.
const ALERTS = `{ alerts(status: [OPEN], first: 8) { nodes { id accountId kind day scoreBefore
  scoreAfter bandBefore bandAfter drivers { name } } } }`;
const SEES_ALERTS = ["manager", "admin"].includes(document.body.dataset.role);

const HEALTH_HISTORY = `{ portfolioHealthHistory(top: 200, days: 90) { day bands { band accounts arr { amount currency } } } }`;

const METRICS = `{ supportMetrics(period: MONTH) { periodStart opened resolved csat slaAttainment } }`;

const BAND_CLASS = { GREEN: "c-green", YELLOW: "c-yellow", RED: "c-red", GREY: "c-grey" };

let rows = [];
let sortKey = "rank";
let ascending = true;

// Sort values besides the row's own fields; a grey score (too little data) sorts last.
const valueOf = {
  score: (r) => (r.confirmedBand === "GREY" ? null : r.score),
  arr: (r) => Number(r.arr.amount),
  revenueAtRisk: (r) => Number(r.revenueAtRisk.amount),
};

function sorted() {
  const get = valueOf[sortKey] ?? ((r) => r[sortKey]);
  return [...rows].sort((a, b) => {
    const x = get(a);
    const y = get(b);
    if (x === null || x === undefined) return y === null || y === undefined ? a.rank - b.rank : 1;
    if (y === null || y === undefined) return -1;
    const order = typeof x === "string" ? x.localeCompare(y) : x - y;
    return (ascending ? order : -order) || a.rank - b.rank;
  });
}

function trend(delta) {
  const cls = delta > 0 ? "up" : delta < 0 ? "down" : "flat";
  return h("span", { class: `trend ${cls}` }, signed(delta));
}

function renderTable() {
  const body = $("#portfolio tbody");
  fill(body, sorted().map((r) => h("tr", { class: `row-${(r.confirmedBand ?? "none").toLowerCase()}` },
    h("td", { class: "num" }, r.rank),
    h("th", { scope: "row" }, h("a", { href: `/accounts/${encodeURIComponent(r.accountId)}` }, r.name),
      h("span", { class: "sub" }, label(r.tier))),
    h("td", {}, band(r.confirmedBand, r.score)),
    h("td", { class: "num" }, trend(r.delta7)),
    h("td", { class: "num" }, trend(r.delta30)),
    h("td", { class: "num" }, money(r.arr)),
    h("td", { class: "num" }, Number(r.revenueAtRisk.amount) ? money(r.revenueAtRisk) : "–"),
    h("td", {}, r.owner))));
  for (const th of document.querySelectorAll("#portfolio thead th")) {
    const key = th.querySelector("button").dataset.key;
    if (key === sortKey) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
}

function wireSorting() {
  for (const button of document.querySelectorAll("#portfolio thead button")) {
    button.addEventListener("click", () => {
      const key = button.dataset.key;
      ascending = key === sortKey ? !ascending : true;
      sortKey = key;
      renderTable();
    });
  }
}

function tile(title, value, note) {
  return h("div", { class: "tile" }, h("p", { class: "tile-title" }, title),
    h("p", { class: "tile-value" }, value), note ? h("p", { class: "tile-note" }, note) : null);
}

function renderKpis(kpis) {
  const share = (b) => kpis.shareOfArrByBand.find((x) => x.band === b)?.share ?? 0;
  const coverage = (w) => (w.coverage === null ? null : `covers ${percent(w.coverage)} of ARR`);
  fill($("#tiles"),
    tile("Key-account ARR", money(kpis.arr), `GRR ${percent(kpis.grr, 1)} · NRR ${percent(kpis.nrr, 1)}`),
    tile("ARR by band", `${percent(share("GREEN"))} green`,
      `${percent(share("YELLOW"))} yellow · ${percent(share("RED"))} red · ${percent(share("GREY"))} grey`),
    tile("Revenue at risk (180 days)", money(kpis.revenueAtRisk180),
      `${money(kpis.revenueAtRisk90)} within 90 days · ${money(kpis.watchArr)} on watch`),
    tile("Revenue-weighted CSAT", percent(kpis.revenueWeightedCsat.value, 1), coverage(kpis.revenueWeightedCsat)),
    tile("Revenue-weighted SLA", percent(kpis.revenueWeightedSlaAttainment.value, 1),
      coverage(kpis.revenueWeightedSlaAttainment)));
  shareBar($("#chart-bands"), ["GREEN", "YELLOW", "RED", "GREY"].map((b) => ({
    name: label(b), cls: BAND_CLASS[b], value: share(b) })), {
    summary: "Share of key-account ARR by health band" });
  const short = (v) => compactMoney(v, kpis.arr.currency);
  barChart($("#chart-arr"), kpis.waterfall.map((step) => ({
    label: step.period,
    parts: [
      { name: "New", cls: "c-new", value: Number(step.flows.new.amount) + Number(step.flows.resurrection.amount) },
      { name: "Expansion", cls: "c-green", value: Number(step.flows.expansion.amount) },
      { name: "Contraction", cls: "c-yellow", value: -Number(step.flows.contraction.amount) },
      { name: "Churn", cls: "c-red", value: -Number(step.flows.churn.amount) },
    ],
  })), { format: short, summary: "ARR gained and lost per month" });
}

function renderAlerts(alerts, names) {
  const list = $("#alerts");
  if (!alerts.length) {
    fill(list, h("li", {}, "No open alerts."));
    return;
  }
  fill(list, alerts.map((a) => h("li", {},
    h("a", { href: `/accounts/${encodeURIComponent(a.accountId)}` }, names.get(a.accountId) ?? "Account"),
    ` ${a.kind === "BAND_DROPPED" ? "dropped" : "fell"} from `, band(a.bandBefore, a.scoreBefore), " to ",
    band(a.bandAfter, a.scoreAfter), ` on ${a.day}`,
    a.drivers.length ? h("span", { class: "sub" }, ` · ${a.drivers.map((d) => d.name).join(", ")}`) : null)));
}

function renderMetrics(metrics) {
  const recent = metrics.slice(-12);
  const labels = recent.map((m) => (m.periodStart ?? "").slice(0, 7));
  lineChart($("#chart-support"), labels, [
    { name: "Opened", cls: "c-new", values: recent.map((m) => m.opened) },
    { name: "Resolved", cls: "c-green", values: recent.map((m) => m.resolved) },
  ], { summary: "Cases opened and resolved per month" });
  lineChart($("#chart-quality"), labels, [
    { name: "CSAT", cls: "c-new", values: recent.map((m) => m.csat) },
    { name: "SLA attainment", cls: "c-green", values: recent.map((m) => m.slaAttainment) },
  ], { hi: 1, format: (v) => percent(v), summary: "CSAT and SLA attainment per month" });
}

function renderHealthHistory(days) {
  const bands = ["GREEN", "YELLOW", "RED", "GREY"];
  const arrOf = (d, b) => Number(d.bands.find((x) => x.band === b)?.arr.amount ?? 0);
  const currency = days.flatMap((d) => d.bands)[0]?.arr.currency ?? "EUR";
  lineChart($("#chart-health"), days.map((d) => d.day.slice(5)), bands.map((b) => ({
    name: label(b), cls: BAND_CLASS[b], values: days.map((d) => arrOf(d, b)),
  })), { format: (v) => compactMoney(v, currency), summary: "ARR of today's key accounts per confirmed health band, per day" });
}

async function main() {
  wireSignout();
  wireSorting();
  const portfolio = gql(PORTFOLIO).then((data) => {
    rows = data.portfolio;
    renderTable();
    performance.mark("carelog:portfolio"); // the table is there, sortable and linked
    return rows;
  });
  // The year to today, named: an answer for a named period is kept while the views hold.
  const to = new Date();
  const from = new Date(to.getTime() - 365 * 86400000);
  const period = { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
  const kpis = gql(KPIS, period).then((data) => renderKpis(data.kpis));
  const alerts = SEES_ALERTS ? Promise.all([gql(ALERTS), portfolio]).then(([data, list]) => {
    renderAlerts(data.alerts.nodes, new Map(list.map((r) => [r.accountId, r.name])));
  }) : Promise.resolve($("#alerts").closest("section").remove());
  const metrics = gql(METRICS).then((data) => renderMetrics(data.supportMetrics));
  const health = gql(HEALTH_HISTORY).then((data) => renderHealthHistory(data.portfolioHealthHistory));
  await Promise.all([portfolio, kpis, alerts, metrics, health]);
  ready();
  followChanges();
}

// Live: the server says when the portfolio's views moved (at most every few seconds); the
// table is read again at that position, so it never shows less than what was announced.
function followChanges() {
  let first = true;
  subscribe("subscription { portfolioChanged(seconds: 3) { position } }", {}, (data) => {
    if (first) {
      first = false;
      return;
    }
    gql(PORTFOLIO, { w: data.portfolioChanged.position }).then((fresh) => {
      rows = fresh.portfolio;
      renderTable();
    }).catch(failed);
  });
}

main().catch(failed);
