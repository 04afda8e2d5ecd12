// The haneul web page: a thin client of the same OpenAI-style Videos API that SDKs use (no build step).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = { models: [], jobs: [], blobs: new Map(), timer: null };

// --- API ------------------------------------------------------------------------------------------

function apiKey() {
  return $("#key").value.trim();
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${apiKey()}`, ...(options.headers || {}) };
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(`/v1${path}`, { ...options, headers });
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return options.raw ? response : response.json();
}

function say(message, isError = false) {
  const status = $("#status");
  status.textContent = message;
  status.className = isError ? "error" : "";
}

// --- form ---------------------------------------------------------------------------------------------

function fillSelect(select, values, chosen) {
  select.replaceChildren(...values.map((v) => new Option(v, v, false, v === chosen)));
}

function currentModel() {
  return state.models.find((m) => m.id === $("#model").value) || state.models[0];
}

function onModelChange() {
  const model = currentModel();
  if (!model) return;
  fillSelect($("#size"), model.sizes, model.sizes[0]);
  fillSelect($("#seconds"), model.seconds, model.seconds.includes("4") ? "4" : model.seconds[0]);
  for (const select of document.querySelectorAll(".shot-seconds")) {
    fillSelect(select, model.seconds, select.value || model.seconds[0]);
  }
  for (const select of document.querySelectorAll(".extend-seconds")) {
    fillSelect(select, model.extend_seconds, select.value || model.extend_seconds[0]);
  }
}

async function loadModels() {
  state.models = (await api("/models")).data;
  fillSelect($("#model"), state.models.map((m) => m.id), "sora-2");
  onModelChange();
}

function readAsDataURL(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function baseRequest() {
  const body = { model: $("#model").value, size: $("#size").value };
  const seed = $("#seed").value.trim();
  if (seed !== "") body.seed = Number(seed);
  return body;
}

async function submit(body) {
  const video = await api("/videos", { method: "POST", json: body });
  say(`queued ${video.id}`);
  await refresh();
  return video;
}

async function generate() {
  const prompt = $("#prompt").value.trim();
  if (!prompt) return say("write a prompt first", true);
  const body = { ...baseRequest(), prompt, seconds: $("#seconds").value };
  const file = $("#image").files[0];
  if (file) body.input_reference = { image_url: await readAsDataURL(file) };
  await submit(body);
}

// --- storyboard ---------------------------------------------------------------------------------------

function addShot(prompt = "", seconds = null) {
  const item = document.createElement("li");
  item.innerHTML = `<input class="shot-prompt" placeholder="what happens in this shot">
    <select class="shot-seconds"></select> s <button type="button" class="remove-shot">remove</button>`;
  $(".shot-prompt", item).value = prompt;
  const model = currentModel();
  fillSelect($(".shot-seconds", item), model ? model.seconds : ["1"], seconds || (model ? model.seconds[0] : "1"));
  $(".remove-shot", item).onclick = () => item.remove();
  $("#shots").append(item);
}

function shots() {
  return [...document.querySelectorAll("#shots li")]
    .map((li) => ({ prompt: $(".shot-prompt", li).value.trim(), seconds: $(".shot-seconds", li).value }))
    .filter((shot) => shot.prompt);
}

async function renderOne() {
  const list = shots();
  if (!list.length) return say("add a shot with a prompt", true);
  const prompt = list.map((s) => s.prompt).join(" / ");
  await submit({ ...baseRequest(), prompt, shots: list });
}

async function renderEach() {
  const list = shots();
  if (!list.length) return say("add a shot with a prompt", true);
  for (const shot of list) await submit({ ...baseRequest(), prompt: shot.prompt, seconds: shot.seconds });
}

// --- jobs and gallery -------------------------------------------------------------------------------------

function jobRow(video) {
  const row = document.createElement("tr");
  row.dataset.id = video.id;
  row.className = video.status;
  const error = video.error ? ` (${video.error.code}: ${video.error.message})` : "";
  row.innerHTML = `<td class="prompt"></td><td>${video.size}</td><td>${video.seconds}</td>
    <td class="job-status"></td><td><progress max="100"></progress> <span class="pct"></span></td>`;
  $(".prompt", row).textContent = video.prompt;
  $(".job-status", row).textContent = video.status + error;
  $("progress", row).value = video.progress;
  $(".pct", row).textContent = `${video.progress}%`;
  return row;
}

async function videoURL(id) {
  if (!state.blobs.has(id)) {
    const response = await api(`/videos/${id}/content`, { raw: true });
    state.blobs.set(id, URL.createObjectURL(await response.blob()));
  }
  return state.blobs.get(id);
}

// haneul's extension fields: the caption the model saw (the expanded prompt) and the words it left out
function showCaption(card, video) {
  const unknown = video.expansion ? video.expansion.unknown_words : [];
  if (!video.caption || (video.caption === video.prompt && !unknown.length)) return;
  $(".seen", card).hidden = false;
  $(".caption-text", card).textContent = video.caption;
  $(".unknown-words", card).textContent = unknown.length
    ? `Not in the model's vocabulary, left out: ${unknown.join(", ")}` : "";
}

async function galleryCard(video) {
  const card = $("#card").content.firstElementChild.cloneNode(true);
  card.dataset.id = video.id;
  const url = await videoURL(video.id);
  $("video", card).src = url;
  $("figcaption", card).textContent = `${video.prompt} — ${video.size}, ${video.seconds} s`;
  showCaption(card, video);
  const link = $(".download", card);
  link.href = url;
  link.download = `${video.id}.mp4`;
  const model = currentModel();
  fillSelect($(".extend-seconds", card), model ? model.extend_seconds : ["1"], model ? model.extend_seconds[0] : "1");
  $(".delete", card).onclick = () => act(async () => {
    await api(`/videos/${video.id}`, { method: "DELETE" });
    card.remove();
  });
  $(".remix", card).onclick = () => act(async () => {
    const prompt = $(".remix-prompt", card).value.trim() || video.prompt;
    await api(`/videos/${video.id}/remix`, { method: "POST", json: { prompt } });
  });
  $(".extend", card).onclick = () => act(async () => {
    const prompt = $(".extend-prompt", card).value.trim() || video.prompt;
    const seconds = $(".extend-seconds", card).value;
    await api("/videos/extensions", { method: "POST", json: { prompt, seconds, video: { id: video.id } } });
  });
  return card;
}

async function refresh() {
  if (!apiKey()) return;
  const page = await api("/videos?limit=100&order=desc");
  state.jobs = page.data;
  $("#jobs tbody").replaceChildren(...state.jobs.map(jobRow));
  const gallery = $("#gallery");
  const shown = new Set([...gallery.children].map((c) => c.dataset.id));
  const finished = state.jobs.filter((v) => v.status === "completed");
  for (const video of finished.slice().reverse()) {
    if (!shown.has(video.id)) gallery.prepend(await galleryCard(video));
  }
  const keep = new Set(finished.map((v) => v.id));
  for (const card of [...gallery.children]) if (!keep.has(card.dataset.id)) card.remove();
  const busy = state.jobs.some((v) => v.status === "queued" || v.status === "in_progress");
  clearTimeout(state.timer);
  state.timer = setTimeout(() => act(refresh), busy ? 500 : 3000);
}

async function act(fn) {
  try {
    await fn();
  } catch (error) {
    say(error.message, true);
  }
  if (fn !== refresh) refresh().catch((e) => say(e.message, true));
}

// --- start ---------------------------------------------------------------------------------------------

function start() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    localStorage.setItem("haneul-key", fromHash);
    history.replaceState(null, "", location.pathname);  // keep the key out of the address bar
  }
  $("#key").value = fromHash || localStorage.getItem("haneul-key") || "";
  $("#key").onchange = () => {
    localStorage.setItem("haneul-key", apiKey());
    act(async () => { await loadModels(); });
  };
  $("#model").onchange = onModelChange;
  $("#generate").onclick = () => act(generate);
  $("#add-shot").onclick = () => addShot();
  $("#render-one").onclick = () => act(renderOne);
  $("#render-each").onclick = () => act(renderEach);
  act(async () => {
    if (!apiKey()) return say("enter an API key (printed by `haneul serve`)");
    await loadModels();
    addShot();
    say("ready");
  });
}

start();
