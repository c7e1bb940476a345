import { api, ApiError, el, errorText, requestId, setupLogout, showStatus, sleep } from "/common.js";

const $ = (id) => document.getElementById(id);
const status = $("status");
const form = $("vote-form");
const buttons = ["submit", "skip", "undo", "unskip", "done-undo"].map($);

/** The comparison shown: its assignment, and the request id of its vote (made once, reused on a retry). */
let current = null;
let busy = false;

function setBusy(value) {
  busy = value;
  for (const b of buttons) b.disabled = value;
  document.body.classList.toggle("busy", value);
}

function renderProgress(p) {
  $("progress").textContent = `${p.done} / ${p.total} done, skipped ${p.skipped}`;
}

const ROLES = new Set(["system", "user", "assistant"]);

function renderPrompt(prompt) {
  const messages = typeof prompt === "string" ? [{ role: "user", content: prompt }] : prompt;
  const box = $("prompt");
  box.replaceChildren(
    ...messages.map((m) => {
      const role = ROLES.has(m.role) ? m.role : "user";
      return el("div", { class: `message message-${role}`, "data-role": role }, el("span", { class: "role" }, role), el("div", { class: "content text" }, String(m.content)));
    }),
  );
  box.classList.toggle("conversation", messages.length > 1);
}

function showComparison(c) {
  current = { assignmentId: c.assignmentId, requestId: requestId() };
  form.reset();
  renderPrompt(c.prompt);
  $("response-a").textContent = c.first;
  $("response-b").textContent = c.second;
  $("comparison").dataset.assignmentId = String(c.assignmentId);
  $("comparison").hidden = false;
  $("done").hidden = true;
  if (document.activeElement instanceof HTMLElement && document.activeElement !== document.body) document.activeElement.blur();
  window.scrollTo(0, 0);
}

function showDone(progress) {
  current = null;
  $("comparison").hidden = true;
  $("done").hidden = false;
  $("done-detail").textContent =
    progress.total === 0 ? "Nothing is assigned to you yet." : progress.skipped > 0 ? `You voted on ${progress.done} of ${progress.total}; ${progress.skipped} skipped.` : `You voted on all ${progress.total} comparisons. Thank you!`;
  $("unskip").hidden = progress.skipped === 0;
}

async function loadNext() {
  const { comparison, progress } = await api("GET", "/api/next");
  $("loading").hidden = true;
  renderProgress(progress);
  if (comparison) showComparison(comparison);
  else showDone(progress);
}

/** Run one action with the buttons disabled; errors are shown, and the queue reloaded after a conflict. */
async function run(action) {
  if (busy) return;
  setBusy(true);
  try {
    await action();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    showStatus(status, errorText(e));
    if (e instanceof ApiError && (e.status === 409 || e.status === 404)) {
      try {
        await loadNext();
      } catch (e2) {
        showStatus(status, errorText(e2));
      }
    }
  } finally {
    setBusy(false);
  }
}

function checked(name) {
  return form.querySelector(`input[name="${name}"]:checked`)?.value;
}

function submitVote() {
  if (current === null || busy) return;
  const verdict = checked("verdict");
  if (verdict === undefined) {
    showStatus(status, "choose the overall verdict first (keys 1–4)");
    $("verdict-group").classList.add("missing");
    return;
  }
  const shown = current;
  const body = { requestId: shown.requestId, verdict, flags: [...form.querySelectorAll('input[name="flags"]:checked')].map((x) => x.value) };
  const helpfulness = checked("helpfulness");
  const harmlessness = checked("harmlessness");
  if (helpfulness !== undefined) body.helpfulness = helpfulness;
  if (harmlessness !== undefined) body.harmlessness = harmlessness;
  const comment = $("comment").value.trim();
  if (comment !== "") body.comment = comment;
  return run(async () => {
    showStatus(status, "");
    // a lost connection: the same vote again under the same request id (recorded once)
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await api("POST", `/api/assignments/${shown.assignmentId}/vote`, body);
        renderProgress(res.progress);
        break;
      } catch (e) {
        if (!(e instanceof ApiError) || e.status !== 0 || attempt >= 2) throw e;
        showStatus(status, "connection lost, trying again…", "info");
        await sleep(1000 * (attempt + 1));
      }
    }
    showStatus(status, "");
    await loadNext();
  });
}

function skip() {
  if (current === null) return;
  const id = current.assignmentId;
  return run(async () => {
    showStatus(status, "");
    const res = await api("POST", `/api/assignments/${id}/skip`);
    renderProgress(res.progress);
    await loadNext();
  });
}

function undo() {
  return run(async () => {
    showStatus(status, "");
    const res = await api("POST", "/api/undo");
    if (res.assignmentId === null) showStatus(status, "nothing to undo", "info");
    await loadNext();
  });
}

function unskip() {
  return run(async () => {
    showStatus(status, "");
    await api("POST", "/api/unskip");
    await loadNext();
  });
}

function pick(name, value) {
  const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
  if (input) {
    input.checked = true;
    if (name === "verdict") $("verdict-group").classList.remove("missing");
  }
}

const SHORTCUTS = {
  1: ["verdict", "A"],
  2: ["verdict", "B"],
  3: ["verdict", "tie"],
  4: ["verdict", "both_bad"],
  q: ["helpfulness", "A"],
  w: ["helpfulness", "B"],
  e: ["helpfulness", "same"],
  a: ["harmlessness", "A"],
  s: ["harmlessness", "B"],
  d: ["harmlessness", "same"],
  f: ["harmlessness", "both_harmful"],
};

const TEXT_INPUTS = new Set(["text", "password", "search", "email", "number", "url", "tel"]);
function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && TEXT_INPUTS.has(target.type);
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  if (typing(event.target)) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && current !== null) {
      event.preventDefault();
      submitVote();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (busy) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (key === "Enter") {
    // a focused button or link does its own thing
    if (event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement) return;
    if (current === null) return;
    event.preventDefault();
    submitVote();
  } else if (key === "x") {
    if (current === null) return;
    event.preventDefault();
    skip();
  } else if (key === "u") {
    event.preventDefault();
    undo();
  } else if (Object.hasOwn(SHORTCUTS, key) && current !== null) {
    event.preventDefault();
    pick(...SHORTCUTS[key]);
  }
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  submitVote();
});
form.addEventListener("change", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.name === "verdict") $("verdict-group").classList.remove("missing");
});
$("skip").addEventListener("click", skip);
$("undo").addEventListener("click", undo);
$("done-undo").addEventListener("click", undo);
$("unskip").addEventListener("click", unskip);
setupLogout($("logout"), status);

async function start() {
  try {
    const me = await api("GET", "/api/me");
    $("user").textContent = me.username;
    if (me.role === "admin") $("user").append(" · ", el("a", { href: "/admin.html" }, "admin"));
    await loadNext();
  } catch (e) {
    $("loading").hidden = true;
    if (!(e instanceof ApiError && e.status === 401)) showStatus(status, errorText(e));
  }
}
start();
