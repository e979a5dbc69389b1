import { gql } from "./api.js";
import { $, failed, fill, h, label, ready, showError, wireSignout } from "./dom.js";

const FIELDS = "id title status visibility plans language topic helpful unhelpful version";
const LIST = `query($q: String, $w: Int) { articles(query: $q, first: 100, waitFor: $w) { nodes { ${FIELDS} } } }`;
const DRAFT = `mutation($input: DraftArticleInput!) { draftArticle(input: $input) { notificationId } }`;
const PUBLISH = `mutation($id: UUID!, $v: Visibility!, $version: Int) {
  publishArticle(articleId: $id, visibility: $v, expectedVersion: $version) { notificationId } }`;
const ARCHIVE = `mutation($id: UUID!) { archiveArticle(articleId: $id) { notificationId } }`;
const CANDIDATES = `{ articleCandidates(months: 3, first: 10) { topic opened } }`;

const role = document.body.dataset.role;
const WRITES = ["agent", "manager", "admin"].includes(role);
const SEES_CANDIDATES = ["manager", "admin", "product"].includes(role);

function readers(a) {
  if (a.status !== "PUBLISHED") return "–";
  return a.visibility === "PLANS" ? a.plans.map(label).join(", ") : label(a.visibility);
}

async function act(query, variables) {
  showError($("#article-error"), "");
  try {
    const data = await gql(query, variables);
    await renderArticles(Object.values(data)[0].notificationId);
  } catch (e) {
    showError($("#article-error"), e);
  }
}

function actions(a) {
  if (!WRITES || a.status === "ARCHIVED") return "";
  const publish = (v, text) => h("button", { type: "button", class: "link",
    onclick: () => act(PUBLISH, { id: a.id, v, version: a.version }) }, text);
  return [a.status === "DRAFT" ? [publish("PUBLIC", "Publish for clients"), " · ",
    publish("INTERNAL", "Publish for staff"), " · "] : "",
  h("button", { type: "button", class: "link", onclick: () => act(ARCHIVE, { id: a.id }) }, "Archive")];
}

async function renderArticles(w = null) {
  const q = $("#kb-query").value.trim() || null;
  const { articles } = await gql(LIST, { q, w });
  fill($("#articles tbody"), articles.nodes.length ? articles.nodes.map((a) => h("tr", {},
    h("th", { scope: "row" }, a.title, a.topic ? h("span", { class: "sub" }, a.topic) : null),
    h("td", {}, label(a.status)), h("td", {}, readers(a)), h("td", {}, a.language),
    h("td", { class: "num" }, `${a.helpful} / ${a.helpful + a.unhelpful}`),
    h("td", {}, actions(a)))) : h("tr", {}, h("td", { colspan: 6 }, q ? "Nothing matches." : "No articles yet.")));
}

async function renderCandidates() {
  if (!SEES_CANDIDATES) return;
  const { articleCandidates } = await gql(CANDIDATES);
  $("#candidates-section").hidden = articleCandidates.length === 0;
  fill($("#candidates"), articleCandidates.map((c) => h("li", {},
    WRITES ? h("button", { type: "button", class: "link", onclick: () => {
      $("#draft-topic").value = c.topic;
      $("#draft-title").focus();
    } }, c.topic) : c.topic, ` · ${c.opened} requests`)));
}

function wireForms() {
  $("#kb-search").addEventListener("submit", (event) => {
    event.preventDefault();
    renderArticles().catch((e) => showError($("#article-error"), e));
  });
  if (!WRITES) {
    $("#draft").remove();
    $("#draft-h").remove();
    return;
  }
  $("#draft").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    showError($("#draft-error"), "");
    try {
      const { draftArticle } = await gql(DRAFT, { input: { title: $("#draft-title").value,
        body: $("#draft-body").value, language: $("#draft-language").value.trim(),
        topic: $("#draft-topic").value.trim() || null } });
      form.reset();
      await renderArticles(draftArticle.notificationId);
    } catch (e) {
      showError($("#draft-error"), e);
    }
  });
}

async function main() {
  wireSignout();
  wireForms();
  await Promise.all([renderArticles(), renderCandidates()]);
  ready();
}

main().catch(failed);
