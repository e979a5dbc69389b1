// DOM helpers. Everything from the server goes in as text (textContent, attributes), never as
// HTML: texts are stored as received, and a page must show them as they are.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector) => document.querySelector(selector);

// Formatters are costly to make (about a millisecond each): one per currency and style, kept.
const formats = new Map();

function format(key, make) {
  let found = formats.get(key);
  if (!found) formats.set(key, (found = make()));
  return found;
}

export function money(m) {
  if (!m) return "–";
  return format(`money:${m.currency}`, () => new Intl.NumberFormat(undefined, {
    style: "currency", currency: m.currency, maximumFractionDigits: 0,
  })).format(Number(m.amount));
}

export function compactMoney(value, currency) {
  return format(`compact:${currency}`, () => new Intl.NumberFormat(undefined, {
    notation: "compact", style: "currency", currency,
  })).format(value);
}

export function percent(x, digits = 0) {
  return x === null || x === undefined ? "–" : `${(x * 100).toFixed(digits)} %`;
}

export function signed(n) {
  if (n === null || n === undefined) return "–";
  return n > 0 ? `+${n}` : String(n);
}

export function when(iso) {
  if (!iso) return "–";
  return format("when", () => new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium", timeStyle: "short" })).format(new Date(iso));
}

export function day(iso) {
  if (!iso) return "–";
  return format("day", () => new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium", timeZone: "UTC" })).format(new Date(`${iso.slice(0, 10)}T00:00:00Z`));
}

const BAND_LABELS = { GREEN: "Green", YELLOW: "Yellow", RED: "Red", GREY: "Grey (too little data)" };

export function band(value, score) {
  const label = value ? BAND_LABELS[value] ?? value : "No score";
  return h("span", { class: `band band-${(value ?? "none").toLowerCase()}` },
    score === null || score === undefined ? label : `${score} · ${label}`);
}

export function label(enumValue) {
  return enumValue ? enumValue.charAt(0) + enumValue.slice(1).toLowerCase().replaceAll("_", " ") : "–";
}

export function showError(el, error) {
  el.textContent = error ? String(error.message ?? error) : "";
}

// A page has rendered what it first asks for: tests and the benchmark wait for this.
export function ready() {
  document.body.dataset.ready = "true";
  performance.mark("carelog:interactive");
  const status = $("#status");
  if (status) status.textContent = "";
}

export function failed(error) {
  const status = $("#status");
  if (status) {
    status.textContent = `Could not load this page: ${error.message}`;
    status.classList.add("error");
  }
  document.body.dataset.ready = "error";
}

// Sign-out button of the header.
export function wireSignout() {
  const button = $("#signout");
  if (!button) return;
  button.addEventListener("click", async () => {
    await fetch("/auth/logout", { method: "POST", credentials: "same-origin" });
    location.assign("/signin");
  });
}
