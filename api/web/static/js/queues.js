import { gql, subscribe } from "./api.js";
import { $, failed, fill, h, label, ready, when, wireSignout } from "./dom.js";

const QUEUES = `{ queues { line openCount unassigned escalated oldestOpenedAt } }`;
const CASES = `query($line: Int!) { cases(filter: { line: $line, status: [OPEN] }, first: 200,
  orderBy: OPENED_ASC) { nodes { id subject priority channel openedAt assignee escalated
  firstResponseBreached resolutionBreached account { name } } } }`;
const CHANGED = `subscription($line: Int!) { queueChanged(line: $line) { line openCount } }`;

let line = Number(new URLSearchParams(location.search).get("line")) || 1;
let stop = null;

async function renderLines() {
  const { queues } = await gql(QUEUES);
  const lines = queues.length ? queues : [{ line: 1, openCount: 0, unassigned: 0, escalated: 0 }];
  fill($("#lines"), lines.map((q) => h("button", {
    type: "button", "aria-pressed": q.line === line ? "true" : "false",
    onclick: () => choose(q.line),
  }, `Line ${q.line}: ${q.openCount} open · ${q.unassigned} unassigned`)));
}

async function renderCases() {
  const { cases } = await gql(CASES, { line });
  $("#queue-caption").textContent = `Open cases on line ${line}, oldest first`;
  fill($("#queue tbody"), cases.nodes.length ? cases.nodes.map((c) => h("tr", {},
    h("td", {}, when(c.openedAt)),
    h("td", {}, c.account?.name ?? "–"),
    h("th", { scope: "row" }, h("a", { href: `/agent/cases/${encodeURIComponent(c.id)}` }, c.subject)),
    h("td", {}, label(c.priority)), h("td", {}, label(c.channel)),
    h("td", {}, c.assignee ?? "unassigned"),
    h("td", {}, c.firstResponseBreached || c.resolutionBreached
      ? h("span", { class: "breach" }, "breached") : "on time")))
    : h("tr", {}, h("td", { colspan: 7 }, "No open cases on this line.")));
}

async function refresh() {
  await Promise.all([renderLines(), renderCases()]);
}

function listen() {
  stop?.();
  let first = true;
  stop = subscribe(CHANGED, { line }, () => {
    if (first) first = false; // the first answer is the current state, already shown
    else refresh();
  });
}

async function choose(next) {
  line = next;
  history.replaceState(null, "", `?line=${line}`);
  await refresh();
  listen();
}

async function main() {
  wireSignout();
  await refresh();
  listen();
  ready();
}

main().catch(failed);
