// The inspector view, shared by the served page and `rnnlm inspect --out view.html`:
// characters coloured by surprisal (hover: bits and the likeliest tokens at that place), or
// by one hidden unit's activation (red positive, blue negative), picked from the ranking.
"use strict";

function surprisalColour(bits) {
  // 0 bits: white; 8 bits or more: full red
  const t = Math.min(1, Math.max(0, (bits || 0) / 8));
  return `rgb(255, ${Math.round(255 * (1 - t))}, ${Math.round(255 * (1 - t))})`;
}

function activationColour(v, scale) {
  const t = Math.max(-1, Math.min(1, v / scale));
  const fade = Math.round(255 * (1 - Math.abs(t)));
  return t >= 0 ? `rgb(255, ${fade}, ${fade})` : `rgb(${fade}, ${fade}, 255)`;
}

function shown(text) {
  return text.replace(/\n/g, "\u21b5").replace(/ /g, "\u2423");
}

function renderInspection(root, data) {
  root.textContent = "";
  const info = document.createElement("p");
  info.className = "insp-info";
  const bpt = data.bits_per_token;
  info.textContent = `${data.tokens.length} tokens` +
    (bpt == null ? "" : `, ${bpt.toFixed(3)} bits per token (surprisal, first token is context)`);
  root.appendChild(info);

  const picker = document.createElement("div");
  picker.className = "insp-picker";
  const units = [{label: "surprisal (bits)", unit: null}];
  for (const u of data.units.concat(data.ranking)) {
    const why = u.feature ? ` \u00b7 ${u.feature} r=${u.r.toFixed(2)}` : "";
    units.push({label: `layer ${u.layer} unit ${u.unit} ${u.state}${why}`, unit: u});
  }
  const list = document.createElement("ol");
  list.className = "insp-units";
  units.forEach((entry, i) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = entry.label;
    button.dataset.index = String(i);
    button.addEventListener("click", () => colour(i));
    li.appendChild(button);
    list.appendChild(li);
  });
  picker.appendChild(list);

  const textBox = document.createElement("div");
  textBox.className = "insp-text";
  const tip = document.createElement("div");
  tip.className = "insp-tip";
  tip.hidden = true;
  const spans = data.tokens.map((t, i) => {
    const span = document.createElement("span");
    span.className = "insp-tok";
    span.textContent = t.text;
    span.dataset.index = String(i);
    span.addEventListener("mouseenter", (e) => showTip(i, e));
    span.addEventListener("mouseleave", () => { tip.hidden = true; });
    textBox.appendChild(span);
    return span;
  });
  let current = 0;

  function showTip(i, e) {
    const t = data.tokens[i];
    const lines = [`${JSON.stringify(t.text)}: ` +
      (t.bits == null ? "context (not scored)" : `${t.bits.toFixed(2)} bits`)];
    const u = units[current].unit;
    if (u) lines.push(`activation ${u.values[i].toFixed(3)}`);
    for (const [alt, p] of t.top || []) lines.push(`${shown(alt)}  ${(100 * p).toFixed(1)}%`);
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    tip.style.left = `${e.pageX + 12}px`;
    tip.style.top = `${e.pageY + 12}px`;
  }

  function colour(i) {
    current = i;
    list.querySelectorAll("button").forEach((b) => b.classList.toggle("active",
      b.dataset.index === String(i)));
    const u = units[i].unit;
    const scale = u ? Math.max(1e-6, ...u.values.map(Math.abs)) : 1;
    spans.forEach((span, k) => {
      span.style.backgroundColor = u ? activationColour(u.values[k], scale)
        : surprisalColour(data.tokens[k].bits);
    });
    root.dataset.showing = u ? "unit" : "surprisal";
  }

  const body = document.createElement("div");
  body.className = "insp-body";
  body.appendChild(textBox);
  body.appendChild(picker);
  root.appendChild(body);
  document.body.appendChild(tip);
  colour(0);
}
