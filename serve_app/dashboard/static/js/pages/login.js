// Sign-in: email and password, then the one-time code when the account uses MFA (the API says
// so with reason `mfa_required`). Locked accounts and rate limits are told as the API words them.
import { ApiError } from "../api.js";
import { keep } from "../session.js";
import { esc } from "../format.js";
import { t } from "../i18n.js";

export function render(main) {
  main.innerHTML = `
    <form class="card login stack" id="login" novalidate>
      <h1 data-i18n="auth.title">${esc(t("auth.title"))}</h1>
      <label>${esc(t("auth.email"))}<input name="email" type="email" autocomplete="username" required></label>
      <label>${esc(t("auth.password"))}<input name="password" type="password" autocomplete="current-password" required></label>
      <label id="otp-field" hidden>${esc(t("auth.otp"))} <span class="hint">${esc(t("auth.otp_hint"))}</span>
        <input name="otp" inputmode="numeric" autocomplete="one-time-code" pattern="\\d{6}" maxlength="6"></label>
      <p id="login-error" class="error" role="alert" hidden></p>
      <button type="submit">${esc(t("auth.submit"))}</button>
      <a href="#/register" id="ask-account">${esc(t("reg.link"))}</a>
    </form>`;
  const form = main.querySelector("#login");
  const problem = main.querySelector("#login-error");
  form.email.focus();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    problem.hidden = true;
    const button = form.querySelector("button");
    button.disabled = true;
    const body = { email: form.email.value.trim(), password: form.password.value };
    if (!form.querySelector("#otp-field").hidden && form.otp.value) body.otp = form.otp.value.trim();
    try {
      const response = await fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const answer = await response.json().catch(() => ({}));
      if (!answer.success) throw new ApiError(response.status, answer.error?.code, answer.error?.message || "sign-in failed", answer.error?.details);
      keep(answer.data);
    } catch (err) {
      if (err.details && err.details.reason === "mfa_required") {
        form.querySelector("#otp-field").hidden = false;
        form.otp.focus();
        problem.textContent = t("auth.mfa_needed");
      } else {
        problem.dataset.reason = err.details?.reason || "";  // awaiting_approval, rejected, locked...
        problem.textContent = err.status === 0 || err instanceof TypeError ? "The twin cannot be reached." : err.message;
      }
      problem.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
}
