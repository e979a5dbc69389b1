import { gql, GraphQLError } from "./api.js";
import { lineChart } from "./charts.js";
import { $, band, day, failed, fill, h, label, money, percent, ready, showError, signed, when, wireSignout } from "./dom.js";
import { openRoom } from "./room.js";

const ACCOUNT = `query($id: UUID!) { account(id: $id) { id name tier manager rank isKeyAccount churned
  arr { amount currency }
  kpis { movement tickets90d ticketsPer100kArr csat csatResponses slaAttainment costToServe { amount currency } }
  health { score band confirmedBand coverage provisional trend delta7 delta30 sentiment disagreement
    renewalOn renewalRisk
    drivers { key name pointsLost evidence }
    gates { key cap reason evidence since binding }
    history(days: 90) { day score band } }
  cases(first: 20) { nodes { id subject status priority channel line escalated openedAt } } }
  feedbackBoard(filter: { accountId: $id }, first: 50) { nodes { id title productArea status
    jiraKey jiraStatusName syncPending } } }`;

const EVENTS = `query($positions: [Int!]!) { events(positions: $positions) { position topic occurredAt actor } }`;

const POST = `mutation($id: UUID!, $text: String!) { postToRoom(accountId: $id, text: $text) { notificationId } }`;

const accountId = document.body.dataset.accountId;
const role = document.body.dataset.role;

function tile(title, value, note) {
  return h("div", { class: "tile" }, h("p", { class: "tile-title" }, title),
    h("p", { class: "tile-value" }, value), note ? h("p", { class: "tile-note" }, note) : null);
}

function eventName(topic) {
  // carelog:Case.Escalated -> "Case escalated"
  const [aggregate, event] = topic.replace(/^carelog:/, "").split(".");
  return `${aggregate} ${(event ?? "").replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase()}`;
}

async function renderHealth(account) {
  const health = account.health;
  if (!health) {
    fill($("#health"), h("p", {}, "No health score yet."));
    return;
  }
  fill($("#health"),
    h("p", { class: "score" }, band(health.confirmedBand, health.score)),
    h("p", {}, `Today's band ${label(health.band)} · coverage ${percent(health.coverage)} · 7 days ${signed(health.delta7)} · 30 days ${signed(health.delta30)}`),
    h("p", {}, `Renewal ${health.renewalOn ? day(health.renewalOn) : "not on record"} · risk ${label(health.renewalRisk)}`,
      health.sentiment ? ` · manager's reading ${label(health.sentiment)}` : "",
      health.disagreement ? h("strong", {}, " · the manager's reading disagrees") : ""));
  const evidence = [...new Set(health.drivers.flatMap((d) => d.evidence).concat(health.gates.map((g) => g.evidence)))]
    .map(Number).filter(Number.isInteger).slice(-100);
  let events = new Map();
  if (evidence.length && role !== "agent") {
    const data = await gql(EVENTS, { positions: evidence });
    events = new Map(data.events.map((e) => [String(e.position), e]));
  }
  const evidenceList = (positions) => {
    const known = positions.map((p) => events.get(String(p))).filter(Boolean);
    if (!known.length) return null;
    return h("ul", { class: "evidence" }, known.map((e) =>
      h("li", {}, `${eventName(e.topic)} · ${when(e.occurredAt)} · ${e.actor}`)));
  };
  fill($("#drivers"), health.drivers.length ? health.drivers.map((d) => h("li", { class: "driver" },
    h("span", { class: "driver-name" }, d.name), ` loses ${d.pointsLost.toFixed(1)} points`,
    evidenceList(d.evidence))) : h("li", {}, "Nothing costs this account points."));
  fill($("#gates"), health.gates.length ? health.gates.map((g) => h("li", {},
    `${g.reason} caps the score at ${g.cap}${g.binding ? " (binding)" : ""} since ${when(g.since)}`,
    evidenceList([g.evidence]))) : h("li", {}, "No gate is active."));
  lineChart($("#chart-health"), health.history.map((c) => c.day.slice(5)), [
    { name: "Score", cls: "c-new", values: health.history.map((c) => c.score) },
  ], { hi: 100, summary: `Health score over the last ${health.history.length} days` });
}

function renderSummary(account) {
  const k = account.kpis;
  fill($("#summary"),
    tile("ARR", money(account.arr), `${label(account.tier)}${account.rank ? ` · rank ${account.rank}` : ""}`),
    tile("Manager", account.manager),
    k ? tile("CSAT (90 days)", percent(k.csat), `${k.csatResponses} ratings`) : null,
    k ? tile("SLA attainment (90 days)", percent(k.slaAttainment, 1)) : null,
    k ? tile("Tickets (90 days)", String(k.tickets90d), k.ticketsPer100kArr === null ? null : `${k.ticketsPer100kArr.toFixed(1)} per 100k ARR`) : null,
    k ? tile("ARR movement (12 months)", label(k.movement), `cost to serve ${money(k.costToServe)}`) : null);
}

function renderCases(cases) {
  fill($("#cases tbody"), cases.length ? cases.map((c) => h("tr", {},
    h("td", {}, when(c.openedAt)),
    h("th", { scope: "row" }, h("a", { href: `/agent/cases/${encodeURIComponent(c.id)}` }, c.subject)),
    h("td", {}, label(c.status), c.escalated ? " · escalated" : ""),
    h("td", {}, label(c.priority)), h("td", {}, label(c.channel)), h("td", {}, String(c.line))))
    : h("tr", {}, h("td", { colspan: 6 }, "No cases.")));
}

function renderFeedback(items) {
  fill($("#feedback tbody"), items.length ? items.map((f) => h("tr", {},
    h("th", { scope: "row" }, f.title), h("td", {}, f.productArea), h("td", {}, label(f.status)),
    h("td", {}, f.jiraKey ? `${f.jiraKey} · ${f.jiraStatusName ?? ""}` : f.syncPending ? "waiting for Jira" : "–")))
    : h("tr", {}, h("td", { colspan: 4 }, "No feedback from this account.")));
}

async function main() {
  wireSignout();
  const data = await gql(ACCOUNT, { id: accountId }).catch((error) => {
    if (error instanceof GraphQLError && error.code === "NOT_FOUND") return { account: null };
    throw error;
  });
  if (!data.account) {
    $("#title").textContent = "Account not found";
    ready();
    return;
  }
  const account = data.account;
  document.title = `${account.name} · Carelog`;
  $("#title").textContent = account.name;
  renderSummary(account);
  renderCases(account.cases.nodes);
  renderFeedback(data.feedbackBoard.nodes);
  await Promise.all([renderHealth(account), openRoom($("#room"), accountId, { staff: true })]);
  $("#post").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("#post-text");
    showError($("#post-error"), "");
    try {
      await gql(POST, { id: accountId, text: text.value });
      text.value = "";
    } catch (error) {
      showError($("#post-error"), error);
    }
  });
  ready();
}

main().catch(failed);
