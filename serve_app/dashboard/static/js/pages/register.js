// Asking for an account, from the sign-in page: a district officer, block officer or school admin
// (a state admin is never asked for). The account waits until an officer above its area approves
// it; the answer is the same whether or not the email has an account, so the page says only that
// the request was received. Sent without a token: no one is signed in here. A school admin finds
// the school by name or code in the public directory.
import { esc } from "../format.js";
import { t } from "../i18n.js";

const ROLES = ["school_admin", "block_officer", "district_officer"];

export function render(main) {
  main.innerHTML = `
    <form class="card login stack" id="register" novalidate>
      <h1>${esc(t("reg.title"))}</h1>
      <p class="muted">${esc(t("reg.intro"))}</p>
      <label>${esc(t("reg.name"))}<input name="full_name" autocomplete="name" required maxlength="200"></label>
      <label>${esc(t("auth.email"))}<input name="email" type="email" autocomplete="username" required></label>
      <label>${esc(t("auth.password"))} <span class="hint">${esc(t("reg.password_hint"))}</span>
        <input name="password" type="password" autocomplete="new-password" required></label>
      <label>${esc(t("reg.role"))}<select name="role">${ROLES.map((r) => `<option value="${r}">${esc(t("role." + r))}</option>`).join("")}</select></label>
      <div data-for="finder" class="stack">
        <label>${esc(t("reg.find"))}<input name="find" type="search" autocomplete="off" maxlength="100"></label>
        <ul id="school-choices" class="choices" aria-live="polite"></ul>
      </div>
      <label data-for="district">${esc(t("col.district"))}<input name="district" required maxlength="64"></label>
      <label data-for="block">${esc(t("col.block"))}<input name="block" maxlength="64"></label>
      <label data-for="school_id">${esc(t("reg.school"))}<input name="school_id" inputmode="numeric" pattern="\\d{11}" maxlength="11"></label>
      <p id="register-error" class="error" role="alert" hidden></p>
      <button type="submit">${esc(t("reg.submit"))}</button>
      <a href="#/">${esc(t("reg.back"))}</a>
    </form>`;
  const form = main.querySelector("#register");
  const problem = main.querySelector("#register-error");
  // each role has exactly the area it is named for: show only its fields
  const showArea = () => {
    const role = form.role.value;
    form.querySelector("[data-for=block]").hidden = role === "district_officer";
    form.querySelector("[data-for=school_id]").hidden = role !== "school_admin";
    form.querySelector("[data-for=finder]").hidden = role !== "school_admin";
  };
  // a school admin finds the school by name or UDISE code (the public directory); choosing one
  // fills its district, block and code
  const choices = main.querySelector("#school-choices");
  let asked = 0;
  form.find.addEventListener("input", async () => {
    const q = form.find.value.trim();
    const mine = ++asked;
    if (q.length < 3) { choices.innerHTML = ""; return; }
    try {
      const response = await fetch(`/api/v1/school-directory?q=${encodeURIComponent(q)}`);
      const answer = await response.json();
      if (mine !== asked || !answer.success) return;
      choices.innerHTML = answer.data.map((s) => `<li><button type="button" class="ghost" data-school="${esc(s.id)}"
        data-district="${esc(s.district)}" data-block="${esc(s.block)}">${esc(s.name)} · ${esc(s.id)} · ${esc(s.block)}, ${esc(s.district)}</button></li>`).join("")
        || `<li class="muted">${esc(t("common.none"))}</li>`;
    } catch { /* the fields below still take the code by hand */ }
  });
  choices.addEventListener("click", (e) => {
    const chosen = e.target.closest("button[data-school]");
    if (!chosen) return;
    form.district.value = chosen.dataset.district;
    form.block.value = chosen.dataset.block;
    form.school_id.value = chosen.dataset.school;
    choices.innerHTML = "";
  });
  form.role.addEventListener("change", showArea);
  showArea();
  form.full_name.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    problem.hidden = true;
    const button = form.querySelector("button");
    button.disabled = true;
    const role = form.role.value;
    const body = { full_name: form.full_name.value.trim(), email: form.email.value.trim(), password: form.password.value,
                   role, district: form.district.value.trim() || null };
    if (role !== "district_officer") body.block = form.block.value.trim() || null;
    if (role === "school_admin") body.school_id = form.school_id.value.trim() || null;
    try {
      const response = await fetch("/api/v1/auth/register", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const answer = await response.json().catch(() => ({}));
      if (!answer.success) {
        const fields = (answer.error?.details?.fields || []).map((f) => `${f.field}: ${f.message}`);
        throw new Error(fields.length ? fields.join("; ") : answer.error?.message || `the request failed (${response.status})`);
      }
      main.innerHTML = `<div class="card login stack" id="register-done" role="status">
        <h1>${esc(t("reg.title"))}</h1><p>${esc(t("reg.received"))}</p><a href="#/">${esc(t("reg.back"))}</a></div>`;
    } catch (err) {
      problem.textContent = err instanceof TypeError ? "The twin cannot be reached." : err.message;
      problem.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}
