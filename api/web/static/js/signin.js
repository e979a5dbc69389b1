import { $, ready, showError } from "./dom.js";

// Only a path on this site is followed after signing in (never another host).
function nextPath(role) {
  const next = new URLSearchParams(location.search).get("next") ?? "";
  const home = role === "client" ? "/portal" : role === "agent" ? "/agent" : "/";
  if (!next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return home;
  if (role === "client" && !next.startsWith("/portal")) return home;
  return next;
}

$("#signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#signin-error");
  showError(error, "");
  const response = await fetch("/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("#username").value, password: $("#password").value }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    showError(error, body.error ?? `Sign-in failed (${response.status})`);
    $("#password").focus();
    return;
  }
  location.assign(nextPath(body.role));
});
$("#username").focus();
ready();
