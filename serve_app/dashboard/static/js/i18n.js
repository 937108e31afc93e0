// Every label in English and Tamil. `t(key)` gives the current language's text (English when a
// Tamil one is missing); elements with `data-i18n` are relabelled when the language changes.

const TEXT = {
  "app.title": ["Noon-meal twin", "சத்துணவு இரட்டை"],
  "common.loading": ["Loading…", "ஏற்றுகிறது…"],
  "common.retry": ["Try again", "மீண்டும் முயல்க"],
  "common.none": ["Nothing to show yet.", "இன்னும் காட்ட எதுவும் இல்லை."],
  "common.back": ["Back", "பின்செல்"],
  "common.unavailable": ["Not available yet", "இன்னும் கிடைக்கவில்லை"],
  "unit.lakh": ["lakh", "லட்சம்"],
  "unit.crore": ["crore", "கோடி"],
  "auth.title": ["Sign in", "உள்நுழைக"],
  "auth.email": ["Email", "மின்னஞ்சல்"],
  "auth.password": ["Password", "கடவுச்சொல்"],
  "auth.otp": ["One-time code", "ஒருமுறை குறியீடு"],
  "auth.otp_hint": ["from your authenticator app", "உங்கள் அங்கீகார செயலியிலிருந்து"],
  "auth.submit": ["Sign in", "உள்நுழைக"],
  "auth.sign_out": ["Sign out", "வெளியேறு"],
  "auth.expired": ["Your session has ended. Sign in again.", "உங்கள் அமர்வு முடிந்தது. மீண்டும் உள்நுழைக."],
  "auth.signed_out": ["You are signed out.", "நீங்கள் வெளியேறிவிட்டீர்கள்."],
  "auth.mfa_needed": ["This account uses a one-time code: enter it.", "இந்தக் கணக்கிற்கு ஒருமுறை குறியீடு தேவை."],
  "nav.overview": ["Overview", "கண்ணோட்டம்"],
  "nav.my_school": ["My school", "என் பள்ளி"],
  "nav.finance": ["Finance", "நிதி"],
  "nav.reports": ["Reports", "அறிக்கைகள்"],
  "nav.scenarios": ["Simulation lab", "உருவகப்படுத்தல்"],
  "conn.live": ["Live", "நேரலை"],
  "conn.down": ["Reconnecting…", "மீண்டும் இணைக்கிறது…"],
  "fig.reporting": ["Schools reporting", "அறிக்கை அளித்த பள்ளிகள்"],
  "fig.meals": ["Meals today", "இன்றைய உணவு"],
  "fig.fed": ["Children fed / enrolled", "உணவு பெற்றோர் / சேர்க்கை"],
  "fig.stock": ["Rice stock", "அரிசி இருப்பு"],
  "fig.stock_days": ["days", "நாட்கள்"],
  "fig.funds": ["Funds balance", "நிதி இருப்பு"],
  "fig.risk": ["Schools by risk", "அபாய நிலைப்படி பள்ளிகள்"],
  "fig.stale": ["stale", "பழையது"],
  "level.low": ["low", "குறைவு"],
  "level.medium": ["medium", "நடுத்தரம்"],
  "level.high": ["high", "அதிகம்"],
  "level.critical": ["critical", "மிக அதிகம்"],
  "col.district": ["District", "மாவட்டம்"],
  "col.block": ["Block", "வட்டாரம்"],
  "col.school": ["School", "பள்ளி"],
  "col.schools": ["Schools", "பள்ளிகள்"],
  "col.meals": ["Meals today", "இன்றைய உணவு"],
  "col.stale": ["Stale", "பழையது"],
  "col.stock_days": ["Stock days", "இருப்பு நாட்கள்"],
  "col.at_risk": ["High + critical", "அதிக அபாயம்"],
  "col.risk": ["Risk", "அபாயம்"],
  "col.enrolment": ["Enrolment", "சேர்க்கை"],
  "col.balance": ["Balance", "இருப்பு"],
  "map.title": ["Schools by risk", "அபாயப்படி பள்ளிகள்"],
  "map.drawn": ["schools drawn", "பள்ளிகள் வரையப்பட்டன"],
  "state.districts": ["Districts", "மாவட்டங்கள்"],
  "district.blocks": ["Blocks", "வட்டாரங்கள்"],
  "district.cascade": ["Cascade warnings", "பரவல் எச்சரிக்கைகள்"],
  "district.finance": ["Money this year", "இந்த ஆண்டு நிதி"],
  "block.schools": ["Schools", "பள்ளிகள்"],
  "school.state": ["Live state", "நேரலை நிலை"],
  "school.risk": ["Risk score", "அபாய மதிப்பெண்"],
  "school.history": ["Daily meals, last 30 days", "தினசரி உணவு, கடந்த 30 நாட்கள்"],
  "school.forecast": ["7-day forecast (P10–P90)", "7 நாள் முன்னறிவிப்பு"],
  "school.events": ["Recent events", "சமீபத்திய நிகழ்வுகள்"],
  "school.path": ["Cascade path", "பரவல் பாதை"],
  "alerts.title": ["Alerts", "எச்சரிக்கைகள்"],
  "alerts.mark_read": ["Mark read", "படித்ததாகக் குறி"],
  "alerts.none": ["No alerts.", "எச்சரிக்கைகள் இல்லை."],
  "report.title": ["Today's report", "இன்றைய அறிக்கை"],
  "report.date": ["Date", "தேதி"],
  "report.present": ["Children present", "வருகை தந்த குழந்தைகள்"],
  "report.primary": ["Meals, classes 1–5", "உணவு, 1–5 வகுப்பு"],
  "report.upper": ["Meals, classes 6–8", "உணவு, 6–8 வகுப்பு"],
  "report.secondary": ["Meals, classes 9–10", "உணவு, 9–10 வகுப்பு"],
  "report.no_meal": ["No meal today because", "இன்று உணவு இல்லை காரணம்"],
  "report.send": ["Send report", "அறிக்கை அனுப்பு"],
  "report.shortage": ["Report a shortage", "பற்றாக்குறை தெரிவி"],
  "report.delivery": ["Delivery received", "விநியோகம் பெறப்பட்டது"],
  "report.waiting": ["Waiting to be sent (offline)", "அனுப்பக் காத்திருக்கிறது"],
  "report.sent": ["Sent: the twin has it.", "அனுப்பப்பட்டது."],
  "finance.title": ["Finance", "நிதி"],
  "finance.allocated": ["Allocated", "ஒதுக்கீடு"],
  "finance.released": ["Released", "விடுவிப்பு"],
  "finance.utilised": ["Utilised", "பயன்பாடு"],
  "reports.title": ["Reports", "அறிக்கைகள்"],
  "reports.csv": ["Download CSV", "CSV பதிவிறக்கு"],
  "reports.pdf": ["Download PDF", "PDF பதிவிறக்கு"],
  "nav.optimisation": ["Optimisation", "உகப்பாக்கம்"],
  "opt.run": ["Recompute recommendations", "பரிந்துரைகளை மீண்டும் கணக்கிடு"],
  "opt.status": ["Status", "நிலை"],
  "opt.approve": ["Approve", "ஒப்புதல்"],
  "opt.reject": ["Reject", "நிராகரி"],
  "opt.reason": ["Why is it rejected?", "ஏன் நிராகரிக்கப்படுகிறது?"],
  "opt.comments": ["Comments", "கருத்துகள்"],
  "opt.comment": ["Comment", "கருத்து"],
  "opt.send": ["Send", "அனுப்பு"],
  "opt.none": ["No recommendations: recompute them from the live twin.", "பரிந்துரைகள் இல்லை."],
  "scen.title": ["Simulation lab", "உருவகப்படுத்தல் ஆய்வகம்"],
  "scen.run": ["Run scenario", "இயக்கு"],
  "scen.runs": ["Runs", "இயக்கங்கள்"],
};

let current = localStorage.getItem("mealtwin.lang") === "ta" ? "ta" : "en";
const listeners = new Set();

export function lang() { return current; }

export function t(key) {
  const entry = TEXT[key];
  if (!entry) return key;
  return (current === "ta" && entry[1]) || entry[0];
}

export function setLang(value) {
  current = value === "ta" ? "ta" : "en";
  localStorage.setItem("mealtwin.lang", current);
  document.documentElement.lang = current;
  relabel(document);
  for (const f of listeners) f(current);
}

export function onLangChange(f) { listeners.add(f); }

export function relabel(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}
