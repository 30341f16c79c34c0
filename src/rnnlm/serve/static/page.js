// The served page: a playground over /v1/completions (streamed as server-sent events) and
// the inspector over /v1/inspect. Plain JavaScript, no CDN: it works offline.
"use strict";

const $ = (id) => document.getElementById(id);

function headers() {
  const h = {"Content-Type": "application/json"};
  if ($("key").value) h.Authorization = `Bearer ${$("key").value}`;
  return h;
}

function unescape(text) {
  return text.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
}

function request() {
  const body = {
    model: $("model").value,
    prompt: $("prompt").value,
    max_tokens: Number($("max_tokens").value),
    temperature: Number($("temperature").value),
    top_p: Number($("top_p").value),
    stream: $("stream").checked,
  };
  if ($("stop").value) body.stop = unescape($("stop").value);
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  return body;
}

async function failure(response) {
  try {
    return (await response.json()).error.message;
  } catch (e) {
    return `HTTP ${response.status}`;
  }
}

async function generate() {
  const out = $("output");
  const body = request();
  out.textContent = body.prompt;
  out.classList.remove("error");
  $("generate").disabled = true;
  try {
    const r = await fetch("v1/completions", {method: "POST", headers: headers(),
                                             body: JSON.stringify(body)});
    if (!r.ok) throw new Error(await failure(r));
    if (!body.stream) {
      out.textContent += (await r.json()).choices[0].text;
      return;
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      const events = buffer.split("\n\n");
      buffer = events.pop();
      for (const event of events) {
        const data = event.replace(/^data: /, "");
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        for (const c of chunk.choices) out.textContent += c.text;
      }
    }
  } catch (e) {
    out.classList.add("error");
    out.textContent += `\n[${e.message}]`;
  } finally {
    $("generate").disabled = false;
  }
}

function curl() {
  const quote = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const body = request();
  const lines = [`curl ${quote(new URL("v1/completions", location.href).href)}`,
                 `  -H 'Content-Type: application/json'`];
  if ($("key").value) lines.push(`  -H ${quote(`Authorization: Bearer ${$("key").value}`)}`);
  if (body.stream) lines.push("  -N");
  lines.push(`  -d ${quote(JSON.stringify(body))}`);
  const text = lines.join(" \\\n");
  const box = $("curl-text");
  box.textContent = text;
  box.hidden = false;
  if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
}

async function inspect() {
  const root = $("inspection");
  root.textContent = "inspecting\u2026";
  try {
    const r = await fetch("v1/inspect", {method: "POST", headers: headers(), body:
      JSON.stringify({model: $("model").value, text: $("inspect-text").value,
                      rank: Number($("rank").value)})});
    if (!r.ok) throw new Error(await failure(r));
    renderInspection(root, await r.json());
  } catch (e) {
    root.textContent = e.message;
    root.className = "error";
  }
}

function tab(name) {
  $("play").hidden = name !== "play";
  $("inspect").hidden = name !== "inspect";
  $("tab-play").classList.toggle("active", name === "play");
  $("tab-inspect").classList.toggle("active", name === "inspect");
}

async function models() {
  const r = await fetch("v1/models", {headers: headers()});
  if (!r.ok) {
    $("output").textContent = await failure(r);
    return;
  }
  const select = $("model");
  select.textContent = "";
  for (const m of (await r.json()).data) {
    const option = document.createElement("option");
    option.value = option.textContent = m.id;
    select.appendChild(option);
  }
}

$("generate").addEventListener("click", generate);
$("curl").addEventListener("click", curl);
$("run-inspect").addEventListener("click", inspect);
$("tab-play").addEventListener("click", () => tab("play"));
$("tab-inspect").addEventListener("click", () => tab("inspect"));
$("key").addEventListener("change", models);
models();
