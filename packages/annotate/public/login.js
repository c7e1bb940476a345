import { api, ApiError, errorText, showStatus } from "/common.js";

const form = document.getElementById("login-form");
const status = document.getElementById("status");
const submit = document.getElementById("login-submit");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = document.getElementById("username").value.trim();
  const password = document.getElementById("password").value;
  if (username === "" || password === "") {
    showStatus(status, "enter your user name and password");
    return;
  }
  submit.disabled = true;
  showStatus(status, "");
  try {
    const me = await api("POST", "/api/login", { username, password });
    location.assign(me.role === "admin" ? "/admin.html" : "/annotate.html");
  } catch (e) {
    submit.disabled = false;
    if (e instanceof ApiError && e.status === 401) showStatus(status, "wrong user name or password");
    else if (e instanceof ApiError && e.status === 429) showStatus(status, "too many attempts, wait a minute");
    else showStatus(status, errorText(e));
  }
});
