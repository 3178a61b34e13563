// Stik workspace: live events over a WebSocket (with catch-up after a drop),
// SLA countdowns, the screen-pop with its wrap-up form, and keyboard shortcuts.
(function () {
  "use strict";
  const body = document.body;
  if (!body.dataset.user) return;
  const csrf = body.dataset.csrf;
  const lastKey = "stik.lastEvent." + body.dataset.user;

  // htmx: show refusals (4xx) in the flash area instead of dropping them.
  document.addEventListener("htmx:beforeSwap", (e) => {
    const status = e.detail.xhr.status;
    if (status >= 400 && status < 500 && status !== 401) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // ---- live events ----------------------------------------------------------
  const live = document.getElementById("live");
  let pause = 500;
  function connect() {
    const last = sessionStorage.getItem(lastKey);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + location.host + "/ws" + (last ? "?after=" + encodeURIComponent(last) : "");
    const ws = new WebSocket(url);
    ws.onopen = () => { pause = 500; setLive(true); };
    ws.onmessage = (m) => receive(JSON.parse(m.data));
    ws.onclose = () => {
      setLive(false);
      setTimeout(connect, pause);
      pause = Math.min(pause * 2, 10000);
    };
  }
  function setLive(on) {
    if (!live) return;
    live.classList.toggle("on", on);
    live.textContent = on ? live.dataset.on : live.dataset.off;
  }
  function receive(event) {
    if (event.kind === "hello") {
      if (!sessionStorage.getItem(lastKey)) sessionStorage.setItem(lastKey, String(event.last_id));
      return;
    }
    if (typeof event.id === "number") {
      const last = Number(sessionStorage.getItem(lastKey) || 0);
      if (event.id <= last) return;
      sessionStorage.setItem(lastKey, String(event.id));
    }
    const handlers = {
      screen_pop: screenPop,
      call_withdrawn: callWithdrawn,
      call_ended: callEnded,
      "ticket.assigned": () => refresh("#my-tickets"),
      "queues.changed": () => refresh("#queues"),
    };
    (handlers[event.kind] || (() => {}))(event.payload || {});
    document.dispatchEvent(new CustomEvent("stik:event", { detail: event }));
  }
  function refresh(selector) {
    const el = document.querySelector(selector);
    if (el && window.htmx) window.htmx.trigger(el, "refresh");
  }

  // ---- screen-pop, answering, and wrap-up ---------------------------------------
  let currentTask = null;
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function callState(text, buttons) {
    document.getElementById("call-state").textContent = text;
    for (const id of ["call-accept", "call-decline"]) {
      const b = document.getElementById(id);
      if (b) b.hidden = !buttons;
    }
  }
  function screenPop(p) {
    const card = document.getElementById("call");
    if (!card) return;
    const d = card.dataset;
    currentTask = p.task_id || null;
    const box = document.getElementById("call-pop");
    box.replaceChildren();
    const number = p.caller_kind === "withheld" || !p.caller ? d.withheld : p.caller;
    box.append(el("p", "caller", d.title + ": " + number));
    const candidates = Array.isArray(p.candidates) ? p.candidates : [];
    if (p.outcome === "ambiguous" && candidates.length > 1) box.append(el("p", "small", d.shared));
    if (!candidates.length) box.append(el("p", "empty", d.unknown));
    for (const c of candidates) {
      const row = el("p", "pop-candidate");
      const link = el("a", "pop-partner", c.name || d.open);
      link.href = "/partners/" + encodeURIComponent(String(c.partner_id));
      row.append(link);
      if (c.metering_point) row.append(" ", el("span", "tag", c.metering_point));
      if (c.vulnerable) row.append(" ", el("span", "tag warn", d.vulnerable));
      if (Array.isArray(c.reasons) && c.reasons.length) {
        row.append(" ", el("span", "small", c.reasons.join(", ")));
      }
      box.append(row);
    }
    const search = document.getElementById("call-search");
    if (search) search.hidden = p.outcome === "matched";
    const tickets = document.getElementById("call-tickets");
    tickets.replaceChildren();
    for (const t of p.open_tickets || []) {
      const li = el("li");
      const a = el("a", "", t.number);
      a.href = "/tickets/" + encodeURIComponent(String(t.id));
      const sla = { breached: d.slaBreached, at_risk: d.slaAtRisk, on_time: d.slaOnTime }[t.sla];
      li.append(a, " ", t.subject || "");
      if (sla) li.append(" ", el("span", "tag sla-" + t.sla, sla));
      tickets.append(li);
    }
    if (!tickets.children.length) tickets.append(el("li", "empty", d.noTickets));
    const recent = document.getElementById("call-recent");
    recent.replaceChildren();
    for (const a of p.recent_contacts || []) {
      const when = new Date(a.occurred_at);
      recent.append(el("li", "", when.toLocaleString() + " · " + a.channel + " · " + (a.subject || "")));
    }
    if (!recent.children.length) recent.append(el("li", "empty", d.noContacts));
    const form = document.getElementById("wrap-up");
    form.dataset.activity = String(p.activity_id || "");
    form.querySelector(".result").textContent = "";
    callState(d.ringing, Boolean(currentTask));
    card.hidden = false;
    card.scrollIntoView({ block: "nearest" });
    const answer = document.getElementById("call-accept");
    if (answer && currentTask) answer.focus();
  }
  async function press(button) {
    if (!currentTask) return;
    const card = document.getElementById("call");
    const response = await fetch("/calls/" + encodeURIComponent(String(currentTask)) + "/" + button, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
    });
    if (response.ok && button === "accept") callState(card.dataset.talking, false);
    else if (response.ok) { callState("", false); card.hidden = true; currentTask = null; }
    else { callState(card.dataset.lost, false); currentTask = null; }
  }
  for (const [id, button] of [["call-accept", "accept"], ["call-decline", "decline"]]) {
    const b = document.getElementById(id);
    if (b) b.addEventListener("click", () => press(button));
  }
  function callWithdrawn(p) {
    const card = document.getElementById("call");
    if (!card || p.task_id !== currentTask) return;
    currentTask = null;
    callState(p.reason === "ring timeout" ? card.dataset.missed : card.dataset.gone, false);
    if (p.reason === "ring timeout") {
      const again = document.getElementById("go-available");
      if (again) again.disabled = false;  // routing paused the agent: let them come back
    }
  }
  function callEnded(p) {
    const card = document.getElementById("call");
    const form = document.getElementById("wrap-up");
    if (!card || !form || String(p.activity_id) !== form.dataset.activity) return;
    currentTask = null;
    callState(card.dataset.ended, false);
  }
  const wrap = document.getElementById("wrap-up");
  if (wrap) {
    wrap.addEventListener("submit", async (e) => {
      e.preventDefault();
      const id = wrap.dataset.activity;
      if (!id) return;
      const response = await fetch("/activities/" + encodeURIComponent(id) + "/wrap-up", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf },
        body: new URLSearchParams(new FormData(wrap)),
      });
      const answer = await response.json();
      const card = document.getElementById("call");
      wrap.querySelector(".result").textContent = response.ok
        ? card.dataset.saved + (answer.ticket ? " · " + answer.ticket : "")
        : answer.error || String(response.status);
      if (response.ok) refresh("#my-tickets");
    });
  }

  // ---- SLA countdowns ---------------------------------------------------------------
  function span(ms) {
    const minutes = Math.round(Math.abs(ms) / 60000);
    if (minutes < 90) return minutes + " min";
    const hours = Math.round(minutes / 60);
    return hours < 36 ? hours + " h" : Math.round(hours / 24) + " d";
  }
  function tick() {
    for (const el of document.querySelectorAll(".countdown[data-due]")) {
      if (!el.dataset.due) continue;
      const left = new Date(el.dataset.due).getTime() - Date.now();
      const pattern = left < 0 ? body.dataset.overdue : body.dataset.left;
      el.textContent = pattern.replace("{t}", span(left));
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 3600000);
    }
  }
  setInterval(tick, 30000);

  // ---- keyboard shortcuts -------------------------------------------------------------
  let pending = "";
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable;
    if (e.key === "Escape") { e.target.blur && e.target.blur(); document.getElementById("help").hidden = true; return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const focus = (id) => { const el = document.getElementById(id); if (el) { e.preventDefault(); el.focus(); el.scrollIntoView({ block: "center" }); } };
    if (pending === "g" && e.key === "w") { pending = ""; location.href = "/"; return; }
    pending = e.key === "g" ? "g" : "";
    switch (e.key) {
      case "/": focus("search"); break;
      case "n": focus("note"); break;
      case "r": focus("reply-body"); break;
      case "c": focus("resolution"); break;
      case "t": { const b = document.getElementById("take"); if (b) { e.preventDefault(); b.click(); } break; }
      case "?": { const h = document.getElementById("help"); h.hidden = !h.hidden; break; }
    }
  });

  tick();
  connect();
})();
