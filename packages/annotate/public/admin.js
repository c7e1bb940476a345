import { api, ApiError, el, errorText, setupLogout, showStatus } from "/common.js";

const $ = (id) => document.getElementById(id);

/** Run `action` with `button` disabled, its error shown in `statusEl` (a 401 leaves for the login page). */
async function guarded(button, statusEl, action) {
  if (button.disabled) return;
  button.disabled = true;
  showStatus(statusEl, "");
  try {
    await action();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showStatus(statusEl, errorText(e));
  } finally {
    button.disabled = false;
  }
}

const kappa = (x) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(3) : "–");
const percent = (x) => (typeof x === "number" && Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : "–");

function fillTable(table, rows, empty) {
  const body = table.tBodies[0];
  const columns = table.tHead.rows[0].cells;
  if (rows.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, empty)));
    return;
  }
  body.replaceChildren(...rows.map((cells) => el("tr", {}, ...cells.map((c, i) => el("td", columns[i]?.classList.contains("num") ? { class: "num" } : {}, String(c))))));
}

function renderUsers(users) {
  fillTable(
    $("users-table"),
    users.map((u) => [u.username, u.role, u.total, u.done, u.skipped]),
    "no users",
  );
}

async function refreshUsers() {
  const { users } = await api("GET", "/api/admin/users");
  renderUsers(users);
}

async function refreshProgress() {
  const p = await api("GET", "/api/admin/progress");
  $("total-tasks").textContent = String(p.tasks);
  $("total-assignments").textContent = String(p.assignments);
  $("total-votes").textContent = String(p.votes);
  renderUsers(p.users);
}

async function refreshAgreement() {
  const a = await api("GET", "/api/admin/agreement");
  $("fleiss").textContent = a.fleiss ? `κ = ${kappa(a.fleiss.kappa)} over ${a.fleiss.tasks} task${a.fleiss.tasks === 1 ? "" : "s"} with ${a.fleiss.raters} raters each` : "– (no task has two or more votes yet)";
  fillTable(
    $("cohen-table"),
    a.cohen.map((c) => [c.a, c.b, c.tasks, kappa(c.kappa)]),
    "no pair of annotators has voted on the same task yet",
  );
  fillTable(
    $("annotators-table"),
    a.annotators.map((x) => [x.annotator, x.votes, percent(x.agreesWithMajority)]),
    "no votes yet",
  );
}

$("import-file").addEventListener("change", async () => {
  const file = $("import-file").files?.[0];
  if (file) $("import-text").value = await file.text();
});

$("import-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded($("import-submit"), $("import-status"), async () => {
    const text = $("import-text").value;
    if (text.trim() === "") throw new Error("choose a file or paste the JSONL lines first");
    const { imported } = await api("POST", "/api/admin/tasks", text, { contentType: "application/x-ndjson" });
    showStatus($("import-status"), `imported ${imported} task${imported === 1 ? "" : "s"}`, "ok");
    $("import-text").value = "";
    $("import-file").value = "";
    await refreshProgress();
  });
});

$("user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded($("user-submit"), $("user-status"), async () => {
    const username = $("new-username").value.trim();
    const password = $("new-password").value;
    const role = $("new-role").value;
    if (username === "") throw new Error("enter a user name");
    if (password.length < 8) throw new Error("a password needs at least 8 characters");
    await api("POST", "/api/admin/users", { username, password, role });
    showStatus($("user-status"), `created ${role} ${username}`, "ok");
    $("user-form").reset();
    await refreshUsers();
  });
});

$("assign-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded($("assign-submit"), $("assign-status"), async () => {
    const k = Number($("assign-k").value);
    const seedText = $("assign-seed").value.trim();
    if (!Number.isInteger(k) || k < 1) throw new Error("k must be a positive whole number");
    const body = { k };
    if (seedText !== "") {
      const seed = Number(seedText);
      if (!Number.isInteger(seed) || seed < 0) throw new Error("the seed must be a whole number ≥ 0");
      body.seed = seed;
    }
    const { assigned } = await api("POST", "/api/admin/assign", body);
    showStatus($("assign-status"), `assigned ${assigned} comparison${assigned === 1 ? "" : "s"}`, "ok");
    await refreshProgress();
  });
});

$("progress-refresh").addEventListener("click", () => guarded($("progress-refresh"), $("progress-status"), refreshProgress));
$("agreement-refresh").addEventListener("click", () => guarded($("agreement-refresh"), $("agreement-status"), refreshAgreement));
$("backup").addEventListener("click", () =>
  guarded($("backup"), $("backup-status"), async () => {
    const { file } = await api("POST", "/api/admin/backup");
    showStatus($("backup-status"), `backup written to ${file}`, "ok");
  }),
);
setupLogout($("logout"), $("status"));

async function start() {
  try {
    const me = await api("GET", "/api/me");
    $("user").textContent = me.username;
    await Promise.all([refreshProgress(), refreshAgreement()]);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showStatus($("status"), errorText(e));
  }
}
start();
