// An account's room: the latest messages, then live ones from `roomEvents`, resumed after the
// newest position seen so nothing is missed across a reconnect. Shared by the account page
// and the portal.
import { gql, subscribe } from "./api.js";
import { fill, h, label, when } from "./dom.js";

const FIELDS = `id kind occurredAt notificationId channel direction author text subject edited
  automated flagged delivery deliveryError`;

const ROOM = `query($id: UUID!) { room(accountId: $id) { lastNotificationId
  messages(first: 50) { edges { node { ${FIELDS} } } } } }`;

const EVENTS = `subscription($id: UUID!, $after: Int) { roomEvents(accountId: $id, after: $after) { ${FIELDS} } }`;

// Staff see every entry with its author; a client sees the messages (notes are the
// manager's), its own side as "Your team" (authors there are contact ids) and ours as "Support".
function item(m, { staff }) {
  if (m.kind === "note" && !staff) return null;
  const who = m.direction === "inbound" ? "client" : m.direction === "note" ? "note" : "us";
  const author = staff ? m.author : who === "client" ? "Your team" : "Support";
  return h("li", { class: `msg msg-${who}`, "data-id": m.id },
    h("p", { class: "meta" }, `${author} · ${label(m.channel)} · ${when(m.occurredAt)}`,
      m.edited ? " · edited" : "", m.delivery && m.delivery !== "delivered" ? ` · ${m.delivery}` : "",
      m.deliveryError ? ` (${m.deliveryError})` : ""),
    m.subject ? h("p", { class: "subject" }, m.subject) : null,
    h("p", { class: "text" }, m.text));
}

export async function openRoom(list, accountId, { staff }) {
  const data = await gql(ROOM, { id: accountId });
  let last = data.room.lastNotificationId;
  const nodes = data.room.messages.edges.map((e) => e.node);
  fill(list, nodes.map((m) => item(m, { staff })));
  if (!nodes.length) list.append(h("li", { class: "empty" }, "No messages yet."));
  list.scrollTop = list.scrollHeight;
  const put = (m) => {
    last = Math.max(last, m.notificationId);
    const fresh = item(m, { staff });
    const old = list.querySelector(`[data-id="${CSS.escape(m.id)}"]`);
    if (old && fresh) old.replaceWith(fresh);
    else if (old) old.remove();
    else if (fresh) {
      list.querySelector(".empty")?.remove();
      list.append(fresh);
      list.scrollTop = list.scrollHeight;
    }
  };
  subscribe(EVENTS, { id: accountId, after: last }, (d) => put(d.roomEvents), {
    resume: (vars) => ({ ...vars, after: last }),
  });
  return put;
}
