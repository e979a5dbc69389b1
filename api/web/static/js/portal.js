import { gql } from "./api.js";
import { $, failed, fill, h, label, ready, showError, when, wireSignout } from "./dom.js";
import { openRoom } from "./room.js";

const REQUESTS = `query($id: UUID!, $wait: Int) { account(id: $id, waitFor: $wait) { name
  cases(first: 50) { nodes { id subject status openedAt csat } } } }`;
const OPEN = `mutation($input: OpenCaseInput!) { openCase(input: $input) { caseId notificationId } }`;
const SEND = `mutation($id: UUID!, $text: String!, $key: String!) {
  sendChatMessage(accountId: $id, text: $text, channel: PORTAL, clientMessageId: $key) { notificationId } }`;

const ANNOUNCEMENTS = `{ announcements(first: 10) { nodes { id kind title text status startsAt endsAt } } }`;
const SEARCH = `query($q: String!) { articles(query: $q, first: 8) { nodes { id title body } } }`;
const SUGGEST = `query($text: String!) { suggestArticles(text: $text, first: 3) { id title body } }`;

const { accountId, contactId } = document.body.dataset;

async function renderAnnouncements() {
  const { announcements } = await gql(ANNOUNCEMENTS);
  const current = announcements.nodes;
  $("#announcements-section").hidden = current.length === 0;
  fill($("#announcements"), current.map((a) => h("li", { class: `notice notice-${a.kind.toLowerCase()}` },
    h("strong", {}, `${a.kind === "INCIDENT" ? "Incident" : "Planned work"}: ${a.title}`),
    h("span", { class: "sub" }, a.endsAt ? `${when(a.startsAt)} – ${when(a.endsAt)}` : `since ${when(a.startsAt)}`),
    h("p", {}, a.text))));
}

// Articles as collapsible entries: the title opens the text (shown as text, never as HTML).
function articleList(articles, empty) {
  if (!articles.length) return empty ? h("p", { class: "status" }, empty) : "";
  return h("ul", { class: "articles" }, ...articles.map((a) => h("li", {},
    h("details", {}, h("summary", {}, a.title), h("p", { class: "article-body" }, a.body)))));
}

function wireKnowledgeBase() {
  $("#kb-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = $("#kb-query").value.trim();
    if (!q) return fill($("#kb-results"));
    try {
      const { articles } = await gql(SEARCH, { q });
      fill($("#kb-results"), articleList(articles.nodes, "No article matches; file a request below."));
    } catch (e) {
      fill($("#kb-results"), h("p", { class: "error", role: "alert" }, e.message));
    }
  });
  // Before a request is sent, articles that may already answer it (asked once typing pauses).
  let timer;
  const suggest = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = `${$("#subject").value} ${$("#text").value}`.trim();
      if (text.length < 4) return fill($("#suggestions"));
      try {
        const { suggestArticles } = await gql(SUGGEST, { text });
        fill($("#suggestions"), suggestArticles.length
          ? [h("p", { class: "sub" }, "These articles may answer it already:"), articleList(suggestArticles)] : "");
      } catch {
        fill($("#suggestions"));
      }
    }, 400);
  };
  $("#subject").addEventListener("input", suggest);
  $("#text").addEventListener("input", suggest);
}

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
  wireKnowledgeBase();
  await Promise.all([renderRequests(), renderAnnouncements(),
    openRoom($("#room"), accountId, { staff: false })]);
  ready();
}

main().catch(failed);
