import { gql, gqlOne } from "./api.js";
import { $, failed, fill, h, label, ready, showError, when, wireSignout } from "./dom.js";

const CASE = `query($id: UUID!, $wait: Int) { case(id: $id, waitFor: $wait) { id accountId subject
  topic status priority channel line department escalated escalationReason assignee openedAt
  firstResponseDue resolutionDue firstResponseBreached resolutionBreached version csat csatComment
  account { name tier }
  interactions { id channel direction sender text occurredAt channelAllowed } } }`;

const REPLY = `mutation($id: UUID!, $text: String!, $channel: Channel, $version: Int) {
  replyToCase(caseId: $id, text: $text, channel: $channel, expectedVersion: $version) { notificationId } }`;
const ESCALATE = `mutation($id: UUID!, $reason: String!, $department: String, $version: Int) {
  escalateCase(caseId: $id, reason: $reason, department: $department, expectedVersion: $version) { notificationId } }`;
const RESOLVE = `mutation($id: UUID!, $resolution: String!, $version: Int) {
  resolveCase(caseId: $id, resolution: $resolution, expectedVersion: $version) { notificationId } }`;
const ASSIGN = `mutation($id: UUID!, $agent: String!, $version: Int) {
  assignCase(caseId: $id, agent: $agent, expectedVersion: $version) { notificationId } }`;
const FEEDBACK = `mutation($input: SubmitFeedbackInput!) { submitFeedback(input: $input) { notificationId feedbackId } }`;

const CHANNELS = ["EMAIL", "TELEGRAM", "PORTAL", "WEB_CHAT", "PHONE"];
const caseId = document.body.dataset.caseId;
let current = null;

function render(c) {
  current = c;
  document.title = `${c.subject} · Carelog`;
  $("#title").textContent = c.subject;
  const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  fill($("#facts"),
    fact("Account", h("a", { href: `/accounts/${encodeURIComponent(c.accountId)}` }, c.account?.name ?? "–")),
    fact("Status", `${label(c.status)}${c.escalated ? ` · escalated${c.department ? ` to ${c.department}` : ""}: ${c.escalationReason ?? ""}` : ""}`),
    fact("Priority", label(c.priority)), fact("Line", String(c.line)),
    fact("Channel", label(c.channel)), fact("Assignee", c.assignee ?? "unassigned"),
    fact("First response due", `${when(c.firstResponseDue)}${c.firstResponseBreached ? " · breached" : ""}`),
    fact("Resolution due", `${when(c.resolutionDue)}${c.resolutionBreached ? " · breached" : ""}`),
    c.csat ? fact("Rating", `${c.csat} / 5${c.csatComment ? ` · ${c.csatComment}` : ""}`) : []);
  fill($("#thread"), c.interactions.map((m) => h("li", { class: `msg msg-${m.direction === "INBOUND" ? "client" : "us"}` },
    h("p", { class: "meta" }, `${m.sender} · ${label(m.channel)} · ${when(m.occurredAt)}`,
      m.channelAllowed ? "" : " · channel not in the client's plan"),
    h("p", { class: "text" }, m.text))));
  const select = $("#reply-channel");
  if (!select.options.length) {
    select.append(h("option", { value: "" }, `The client's channel (${label(c.channel)})`));
    for (const ch of CHANNELS.filter((x) => x !== c.channel)) select.append(h("option", { value: ch }, label(ch)));
  }
  const open = c.status === "OPEN";
  $("#assign").hidden = !open || c.assignee === document.body.dataset.staff;
  for (const form of ["#reply", "#escalate", "#resolve"]) $(form).querySelector("button").disabled = !open;
}

async function load(wait = null) {
  const found = await gqlOne(CASE, { id: caseId, wait }, "case");
  if (!found) {
    $("#title").textContent = "Case not found";
    for (const form of document.querySelectorAll("form, #assign")) form.hidden = true;
    return false;
  }
  render(found);
  return true;
}

// Run a mutation, then show the case as it stands after it (read your own write).
function action(selector, run) {
  $(selector).addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const error = $("#action-error");
    showError(error, "");
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const result = await run();
      form.reset();
      await load(Object.values(result)[0].notificationId);
      $("#status").textContent = "Done.";
    } catch (e) {
      showError(error, e.code === "VERSION_CONFLICT" ? "Somebody changed this case meanwhile; it is shown as it is now." : e);
      if (e.code === "VERSION_CONFLICT") await load();
    } finally {
      button.disabled = current?.status !== "OPEN" && selector !== "#feedback";
    }
  });
}

async function main() {
  wireSignout();
  if (!(await load())) {
    ready();
    return;
  }
  $("#assign").addEventListener("click", async () => {
    showError($("#action-error"), "");
    try {
      const { assignCase } = await gql(ASSIGN, { id: caseId, agent: document.body.dataset.staff, version: current.version });
      await load(assignCase.notificationId);
    } catch (e) {
      showError($("#action-error"), e);
      if (e.code === "VERSION_CONFLICT") await load();
    }
  });
  action("#reply", () => gql(REPLY, {
    id: caseId, text: $("#reply-text").value, channel: $("#reply-channel").value || null, version: current.version,
  }));
  action("#escalate", () => gql(ESCALATE, {
    id: caseId, reason: $("#escalate-reason").value, department: $("#escalate-department").value || null,
    version: current.version,
  }));
  action("#resolve", () => gql(RESOLVE, { id: caseId, resolution: $("#resolve-text").value, version: current.version }));
  action("#feedback", () => gql(FEEDBACK, { input: {
    accountId: current.accountId, caseId, productArea: $("#feedback-area").value,
    title: $("#feedback-title").value, text: $("#feedback-text").value,
  } }));
  ready();
}

main().catch(failed);
