// Small inline SVG charts drawn from numbers (no library). Each chart is an image with a
// text alternative; colours come from CSS classes, so the stylesheet decides them.

const SVG = "http://www.w3.org/2000/svg";
const W = 480;
const H = 180;
const PAD = { left: 44, right: 8, top: 10, bottom: 26 };

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function frame(container, summary) {
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart" });
  svg.append(s("title", {}, summary));
  container.replaceChildren(svg);
  return svg;
}

function axis(svg, lo, hi, format) {
  for (const v of [lo, (lo + hi) / 2, hi]) {
    const y = yOf(v, lo, hi);
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: "grid-line" }));
    svg.append(s("text", { x: PAD.left - 4, y: y + 4, class: "tick", "text-anchor": "end" }, format(v)));
  }
}

function yOf(v, lo, hi) {
  const span = hi - lo || 1;
  return PAD.top + (H - PAD.top - PAD.bottom) * (1 - (v - lo) / span);
}

function xLabels(svg, labels, xOf) {
  const step = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if (i % step === 0) svg.append(s("text", { x: xOf(i), y: H - 8, class: "tick", "text-anchor": "middle" }, label));
  });
}

// series: [{name, cls, values: [number|null]}] over `labels`.
export function lineChart(container, labels, series, { lo = 0, hi, format = String, summary }) {
  const all = series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
  if (!labels.length || !all.length) {
    container.replaceChildren(document.createTextNode("No data yet."));
    return;
  }
  const top = hi ?? Math.max(...all);
  const svg = frame(container, summary);
  axis(svg, lo, top, format);
  const width = W - PAD.left - PAD.right;
  const xOf = (i) => PAD.left + (labels.length === 1 ? width / 2 : (width * i) / (labels.length - 1));
  xLabels(svg, labels, xOf);
  for (const line of series) {
    let d = "";
    line.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += `${d ? "L" : "M"}${xOf(i).toFixed(1)},${yOf(v, lo, top).toFixed(1)}`;
    });
    svg.append(s("path", { d, class: `line ${line.cls}` }));
  }
  legend(container, series);
}

// bars: [{label, parts: [{name, cls, value}]}]; positive parts stack up, negative down.
export function barChart(container, bars, { format = String, summary }) {
  if (!bars.length) {
    container.replaceChildren(document.createTextNode("No data yet."));
    return;
  }
  let hi = 0;
  let lo = 0;
  for (const bar of bars) {
    hi = Math.max(hi, bar.parts.filter((p) => p.value > 0).reduce((a, p) => a + p.value, 0));
    lo = Math.min(lo, bar.parts.filter((p) => p.value < 0).reduce((a, p) => a + p.value, 0));
  }
  if (hi === lo) hi = lo + 1;
  const svg = frame(container, summary);
  axis(svg, lo, hi, format);
  const width = W - PAD.left - PAD.right;
  const slot = width / bars.length;
  const xOf = (i) => PAD.left + slot * (i + 0.5);
  xLabels(svg, bars.map((b) => b.label), xOf);
  bars.forEach((bar, i) => {
    let up = 0;
    let down = 0;
    for (const part of bar.parts) {
      if (!part.value) continue;
      const from = part.value > 0 ? up : down;
      const to = from + part.value;
      if (part.value > 0) up = to; else down = to;
      const y1 = yOf(Math.max(from, to), lo, hi);
      const y2 = yOf(Math.min(from, to), lo, hi);
      const rect = s("rect", { x: xOf(i) - slot * 0.35, y: y1, width: slot * 0.7, height: Math.max(1, y2 - y1), class: `bar ${part.cls}` });
      rect.append(s("title", {}, `${bar.label} ${part.name}: ${format(part.value)}`));
      svg.append(rect);
    }
  });
  const names = new Map();
  for (const bar of bars) for (const p of bar.parts) names.set(p.name, p.cls);
  legend(container, [...names].map(([name, cls]) => ({ name, cls })));
}

// One bar split into shares that add up to 1.
export function shareBar(container, parts, { summary }) {
  const svg = s("svg", { viewBox: "0 0 480 36", role: "img", class: "chart share" });
  svg.append(s("title", {}, summary));
  let x = 0;
  for (const part of parts) {
    const w = 480 * part.value;
    const rect = s("rect", { x, y: 4, width: Math.max(0, w), height: 28, class: `bar ${part.cls}` });
    rect.append(s("title", {}, `${part.name}: ${(part.value * 100).toFixed(1)} %`));
    svg.append(rect);
    x += w;
  }
  container.replaceChildren(svg);
  legend(container, parts.map((p) => ({ name: `${p.name} ${(p.value * 100).toFixed(0)} %`, cls: p.cls })));
}

function legend(container, series) {
  const list = document.createElement("ul");
  list.className = "legend";
  for (const item of series) {
    const li = document.createElement("li");
    const key = document.createElement("span");
    key.className = `key ${item.cls}`;
    key.setAttribute("aria-hidden", "true");
    li.append(key, document.createTextNode(item.name));
    list.append(li);
  }
  container.append(list);
}
