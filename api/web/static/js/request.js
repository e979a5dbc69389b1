import { gql, gqlOne } from "./api.js";
import { $, failed, fill, h, label, ready, showError, when, wireSignout } from "./dom.js";

const CASE = `query($id: UUID!, $wait: Int) { case(id: $id, waitFor: $wait) { id subject status
  channel openedAt resolvedAt csat csatComment version
  interactions { id channel direction sender text occurredAt } } }`;
const RATE = `mutation($id: UUID!, $csat: Int!, $comment: String) {
  rateCase(caseId: $id, csat: $csat, comment: $comment) { notificationId } }`;

const caseId = document.body.dataset.caseId;

function render(c) {
  document.title = `${c.subject} · Carelog`;
  $("#title").textContent = c.subject;
  const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
  fill($("#facts"), fact("Opened", when(c.openedAt)),
    fact("Status", c.status === "OPEN" ? "Open" : `Answered ${when(c.resolvedAt)}`),
    c.csat ? fact("Your rating", `${c.csat} / 5${c.csatComment ? ` · ${c.csatComment}` : ""}`) : []);
  fill($("#thread"), c.interactions.map((m) => h("li", { class: `msg msg-${m.direction === "INBOUND" ? "client" : "us"}` },
    h("p", { class: "meta" }, `${m.direction === "INBOUND" ? "You" : "Support"} · ${label(m.channel)} · ${when(m.occurredAt)}`),
    h("p", { class: "text" }, m.text))));
  $("#rate").hidden = c.status === "OPEN" || Boolean(c.csat);
}

async function main() {
  wireSignout();
  const found = await gqlOne(CASE, { id: caseId }, "case");
  if (!found) {
    $("#title").textContent = "Request not found";
    ready();
    return;
  }
  render(found);
  fill($("#stars"), [1, 2, 3, 4, 5].map((n) => h("label", { class: "star" },
    h("input", { type: "radio", name: "csat", value: n, required: true }), ` ${n}`)));
  $("#rate").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError($("#rate-error"), "");
    const chosen = document.querySelector('input[name="csat"]:checked');
    try {
      const { rateCase } = await gql(RATE, { id: caseId, csat: Number(chosen.value), comment: $("#rate-comment").value || null });
      const { case: after } = await gql(CASE, { id: caseId, wait: rateCase.notificationId });
      render(after);
      $("#status").textContent = "Thank you for your rating.";
    } catch (e) {
      showError($("#rate-error"), e);
    }
  });
  ready();
}

main().catch(failed);
