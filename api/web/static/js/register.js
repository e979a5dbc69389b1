import { $, ready, showError } from "./dom.js";

// The answer is the same for every address (nothing tells whether it is known); the link
// comes by mail.
$("#register").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#register-error");
  showError(error, "");
  $("#register-status").textContent = "";
  const response = await fetch("/portal/register", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: $("#name").value, email: $("#email").value }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) return showError(error, body.error ?? `Registration failed (${response.status})`);
  $("#register-status").textContent = `Thank you: ${body.message}.`;
  event.currentTarget?.reset?.();
});
$("#name").focus();
ready();
