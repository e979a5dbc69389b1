import { gql } from "./api.js";
import { $, failed, fill, h, label, ready, showError, when, wireSignout } from "./dom.js";

const LIST = `query($w: Int) { announcements(first: 50, waitFor: $w) { nodes { id kind title status startsAt
  endsAt revision fannedOut recipients version linkedCases { id } } } }`;
const PUBLISH = `mutation($kind: AnnouncementKind!, $input: AnnouncementInput!) {
  publishAnnouncement(kind: $kind, input: $input) { notificationId } }`;
const RESOLVE = `mutation($id: UUID!, $text: String!) { resolveAnnouncement(announcementId: $id, text: $text) { notificationId } }`;
const ANSWER = `mutation($id: UUID!, $text: String!) { answerLinkedCases(announcementId: $id, text: $text) { notificationId } }`;
const TIERS = ["VIP", "ENTERPRISE", "BUSINESS", "STANDARD"];
let pending;
const ANNOUNCES = ["agent", "manager", "admin"].includes(document.body.dataset.role);

async function act(query, variables) {
  showError($("#list-error"), "");
  try {
    const data = await gql(query, variables);
    await render(Object.values(data)[0].notificationId);
  } catch (e) {
    showError($("#list-error"), e);
  }
}

function ask(question, then) {
  return () => {
    const text = window.prompt(question);
    if (text !== null) then(text);
  };
}

function actions(a) {
  if (!ANNOUNCES) return "";
  return [
    a.status === "CURRENT" ? h("button", { type: "button", class: "link",
      onclick: ask("What do clients hear as the resolution?", (text) => act(RESOLVE, { id: a.id, text })) }, "Resolve") : "",
    a.linkedCases.length ? [" · ", h("button", { type: "button", class: "link",
      onclick: ask("One answer for every open linked case:", (text) => act(ANSWER, { id: a.id, text })) },
    "Answer linked cases")] : ""];
}

async function render(w = null) {
  const { announcements } = await gql(LIST, { w });
  fill($("#announcements tbody"), announcements.nodes.length ? announcements.nodes.map((a) => h("tr", {},
    h("th", { scope: "row" }, a.title), h("td", {}, label(a.kind)),
    h("td", {}, a.endsAt ? `${when(a.startsAt)} – ${when(a.endsAt)}` : `from ${when(a.startsAt)}`),
    h("td", {}, label(a.status)),
    h("td", {}, a.fannedOut === a.revision ? `${a.recipients} accounts` : "sending…"),
    h("td", { class: "num" }, a.linkedCases.length), h("td", {}, actions(a))))
    : h("tr", {}, h("td", { colspan: 7 }, "Nothing announced yet.")));
  // The fan-out runs beside the app: look again until every revision has gone out.
  clearTimeout(pending);
  if (announcements.nodes.some((a) => a.fannedOut < a.revision)) {
    pending = setTimeout(() => render().catch((e) => showError($("#list-error"), e)), 2000);
  }
}

const iso = (local) => (local ? new Date(local).toISOString() : null);

function wirePublish() {
  if (!ANNOUNCES) return $("#publish").remove();
  fill($("#plans"), h("legend", {}, "Affected plans (none ticked: every client)"), ...TIERS.map((t) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: t }), ` ${label(t)}`)));
  $("#publish").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    showError($("#publish-error"), "");
    const plans = [...form.querySelectorAll("#plans input:checked")].map((i) => i.value);
    const services = $("#services").value.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      const { publishAnnouncement } = await gql(PUBLISH, { kind: $("#kind").value, input: {
        title: $("#title").value, text: $("#text").value, startsAt: iso($("#starts").value),
        endsAt: iso($("#ends").value), services, plans: plans.length ? plans : null } });
      form.reset();
      await render(publishAnnouncement.notificationId);
    } catch (e) {
      showError($("#publish-error"), e);
    }
  });
}

async function main() {
  wireSignout();
  wirePublish();
  await render();
  ready();
}

main().catch(failed);
