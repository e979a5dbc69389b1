import { gql } from "./api.js";
import { $, failed, fill, h, label, ready, showError, when, wireSignout } from "./dom.js";
import { openRoom } from "./room.js";

const REQUESTS = `query($id: UUID!, $wait: Int) { account(id: $id, waitFor: $wait) { name
  cases(first: 50) { nodes { id subject status openedAt csat } } } }`;
const OPEN = `mutation($input: OpenCaseInput!) { openCase(input: $input) { caseId notificationId } }`;
const SEND = `mutation($id: UUID!, $text: String!, $key: String!) {
  sendChatMessage(accountId: $id, text: $text, channel: PORTAL, clientMessageId: $key) { notificationId } }`;

const { accountId, contactId } = document.body.dataset;

async function renderRequests(wait = null) {
  const { account } = await gql(REQUESTS, { id: accountId, wait });
  if (!account) throw new Error("your company's account could not be found");
  $("#title").textContent = `${account.name}: requests`;
  fill($("#requests tbody"), account.cases.nodes.length ? account.cases.nodes.map((c) => h("tr", {},
    h("td", {}, when(c.openedAt)),
    h("th", { scope: "row" }, h("a", { href: `/portal/requests/${encodeURIComponent(c.id)}` }, c.subject)),
    h("td", {}, c.status === "OPEN" ? "Open" : c.status === "RESOLVED" ? "Answered" : "Closed"),
    h("td", {}, c.csat ? `${c.csat} / 5` : c.status === "OPEN" ? "–"
      : h("a", { href: `/portal/requests/${encodeURIComponent(c.id)}#rate` }, "Rate our answer")))) :
    h("tr", {}, h("td", { colspan: 4 }, "No requests yet.")));
}

function wireNewRequest() {
  $("#new-request").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const error = $("#new-error");
    showError(error, "");
    // One id per request typed, so a double submit or a retry is the same request.
    form.dataset.key ??= crypto.randomUUID();
    try {
      const { openCase } = await gql(OPEN, { input: {
        accountId, contactId, channel: "PORTAL", subject: $("#subject").value, text: $("#text").value,
        priority: $("#priority").value, externalMessageId: `portal:${form.dataset.key}`,
      } });
      form.reset();
      delete form.dataset.key;
      await renderRequests(openCase.notificationId);
      $("#status").textContent = "Thank you: your request was received.";
    } catch (e) {
      showError(error, e.code === "CHANNEL_NOT_ALLOWED"
        ? "Your plan does not include requests through the portal; your message was kept and we will answer." : e);
    }
  });
}

function wireChat() {
  $("#chat").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const text = $("#chat-text");
    showError($("#chat-error"), "");
    form.dataset.key ??= crypto.randomUUID();
    try {
      await gql(SEND, { id: accountId, text: text.value, key: form.dataset.key });
      text.value = "";
      delete form.dataset.key;
    } catch (e) {
      showError($("#chat-error"), e);
    }
  });
}

async function main() {
  wireSignout();
  wireNewRequest();
  wireChat();
  await Promise.all([renderRequests(), openRoom($("#room"), accountId, { staff: false })]);
  ready();
}

main().catch(failed);
