import { $, ready, showError } from "./dom.js";

// The token travels after `#` so it never reaches a server log or a Referer; it is read here
// and sent once, in the body, with the chosen password; then the new user is signed in.
const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
history.replaceState(null, "", location.pathname);

$("#confirm").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#confirm-error");
  showError(error, "");
  const password = $("#password").value;
  if (password !== $("#repeat").value) return showError(error, "The two passwords differ.");
  if (!token) return showError(error, "This page needs the link from the mail (it carries a token).");
  const confirmed = await fetch("/portal/confirm", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token, password }),
  });
  const body = await confirmed.json().catch(() => ({}));
  if (!confirmed.ok) return showError(error, body.error ?? `Confirmation failed (${confirmed.status})`);
  const signedIn = await fetch("/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: body.username, password }),
  });
  if (!signedIn.ok) return location.assign("/signin?next=/portal");
  location.assign("/portal");
});
$("#password").focus();
ready();
