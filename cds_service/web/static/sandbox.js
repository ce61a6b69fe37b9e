"use strict";
// The sandbox page: builds the hook request, calls the real service as an EHR would, shows the
// cards (rendered and sanitised by the server) and sends feedback. No card text is ever put
// into innerHTML here: only the server's escaped fragment from /sandbox/render.
(() => {
  const $ = (selector) => document.querySelector(selector);
  const patient = document.body.dataset.patient;
  const form = $("#order-form");
  const fireButton = $("#fire");
  const requestBox = $("#request-json");
  const editMode = $("#edit-mode");
  const sendEdited = $("#send-edited");
  const serviceSelect = $("#service");
  const panel = $("#cards");
  const callStatus = $("#call-status");
  const responseBox = $("#response-json");
  const latency = $("#latency");
  const feedbackLog = $("#feedback-log");
  let currentService = "";

  const message = (text, cls = "empty") => {
    const p = document.createElement("p");
    p.className = cls;
    p.textContent = text;
    return p;
  };

  const pretty = (text) => {
    if (text.length > 500000) return text; // a heavy patient: indenting would only slow it
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  };

  const headers = () => {
    const h = { "Content-Type": "application/json" };
    const token = $("#token").value.trim();
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  };

  async function buildRequest() {
    // The pad's order and hook, or a booking's date: whatever the form holds.
    const query = new URLSearchParams(new FormData(form));
    query.set("patient", patient);
    const response = await fetch(`/sandbox/request?${query}`);
    requestBox.value = pretty(await response.text());
    fireButton.textContent = `Fire ${form.elements.hook.value}`;
  }

  // The service to call: chosen in the toolbar, else the one answering the request's hook.
  function serviceFor(body) {
    if (serviceSelect.value) return serviceSelect.value;
    let hook = "";
    try {
      hook = JSON.parse(body).hook;
    } catch {
      // Invalid JSON is sent as is: the service's 400 is what an integrator needs to see.
    }
    const option = [...serviceSelect.options].find((o) => o.dataset.hook === hook);
    return option ? option.value : serviceSelect.options[1].value;
  }

  async function send() {
    const body = requestBox.value;
    const service = serviceFor(body);
    callStatus.textContent = `Calling ${service}…`;
    panel.replaceChildren(message("Waiting for the service…"));
    const started = performance.now();
    let response;
    let text;
    try {
      response = await fetch(`/cds-services/${encodeURIComponent(service)}`, {
        method: "POST",
        headers: headers(),
        body,
      });
      text = await response.text();
    } catch (error) {
      callStatus.textContent = `${service}: no answer (${error.message})`;
      panel.replaceChildren(message("The service did not answer.", "error"));
      return;
    }
    const ms = Math.round(performance.now() - started);
    responseBox.textContent = pretty(text);
    latency.textContent = `HTTP ${response.status} · ${ms} ms`;
    let cards = [];
    if (response.ok) {
      try {
        cards = JSON.parse(text).cards || [];
      } catch {
        cards = [];
      }
    }
    const count = `${cards.length} card${cards.length === 1 ? "" : "s"}`;
    callStatus.textContent = `${service}: HTTP ${response.status} · ${ms} ms · ${count}`;
    callStatus.dataset.status = String(response.status);
    if (!response.ok) {
      panel.replaceChildren(message(`The service answered HTTP ${response.status}: see the response below.`, "error"));
      return;
    }
    await showCards(cards, service);
  }

  async function showCards(cards, service) {
    currentService = service;
    if (!cards.length) {
      panel.replaceChildren(message("No cards: the service has nothing to say for this order."));
      return;
    }
    const response = await fetch("/sandbox/render", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ cards }),
    });
    // Escaped by Jinja and sanitised by nh3 on the server (see /sandbox/render).
    panel.innerHTML = await response.text();
  }

  async function sendFeedback(card, entry) {
    card.dataset.feedback = "sending";
    const status = card.querySelector(".feedback-status");
    const body = { feedback: [{ card: card.dataset.uuid, ...entry, outcomeTimestamp: new Date().toISOString() }] };
    let text;
    try {
      const response = await fetch(`/cds-services/${encodeURIComponent(currentService)}/feedback`, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify(body),
      });
      const answer = await response.text();
      let stored = "";
      try {
        const parsed = JSON.parse(answer);
        if (response.ok && Number.isInteger(parsed.stored)) stored = `, stored ${parsed.stored}`;
      } catch {
        // Not JSON: the status says enough.
      }
      text = response.status === 404
        ? "this service has no feedback endpoint (HTTP 404)"
        : `HTTP ${response.status}${response.ok ? stored || ", recorded" : ""}`;
      status.dataset.status = String(response.status);
    } catch (error) {
      text = `not sent (${error.message})`;
    }
    status.textContent = `Feedback ${entry.outcome}: ${text}`;
    const item = document.createElement("li");
    const head = document.createElement("p");
    head.textContent = `${entry.outcome} · ${text}`;
    const pre = document.createElement("pre");
    pre.className = "json";
    pre.textContent = JSON.stringify(body, null, 2);
    item.append(head, pre);
    feedbackLog.prepend(item);
    card.dataset.feedback = "sent";
  }

  function accept(card, button) {
    const uuid = button.dataset.suggestion;
    card.querySelector(`[data-accepted="${CSS.escape(uuid)}"]`).hidden = false;
    button.classList.add("chosen");
    button.disabled = true;
    if (card.dataset.selection !== "any") {
      card.querySelectorAll("[data-suggestion]").forEach((b) => { b.disabled = true; });
    }
    card.querySelector("[data-dismiss]").disabled = true;
    card.dataset.state = "accepted";
    sendFeedback(card, { outcome: "accepted", acceptedSuggestions: [{ id: uuid }] });
  }

  function override(card, overrideForm) {
    const chosen = overrideForm.querySelector("input[name=reason]:checked");
    const comment = overrideForm.elements.comment.value.trim();
    const entry = { outcome: "overridden" };
    if (chosen || comment) {
      entry.overrideReason = {};
      if (chosen) {
        const { system, code, display } = chosen.dataset;
        entry.overrideReason.reason = { system, code, display };
      }
      if (comment) entry.overrideReason.userComment = comment;
    }
    overrideForm.hidden = true;
    card.dataset.state = "overridden";
    card.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    sendFeedback(card, entry);
  }

  panel.addEventListener("click", (event) => {
    const card = event.target.closest(".card");
    if (!card) return;
    const suggestion = event.target.closest("[data-suggestion]");
    if (suggestion) accept(card, suggestion);
    if (event.target.closest("[data-dismiss]")) card.querySelector("form.override").hidden = false;
    if (event.target.closest("[data-cancel]")) card.querySelector("form.override").hidden = true;
  });
  panel.addEventListener("submit", (event) => {
    event.preventDefault();
    override(event.target.closest(".card"), event.target);
  });

  // data-busy marks a call in flight (tests and screenshots wait for it to clear).
  const busy = (work) => async (event) => {
    event.preventDefault();
    document.body.dataset.busy = "1";
    try {
      await work();
    } finally {
      delete document.body.dataset.busy;
    }
  };
  form.addEventListener("change", busy(async () => { if (!editMode.checked) await buildRequest(); }));
  form.addEventListener("submit", busy(async () => {
    await buildRequest(); // a new hookInstance for every call, as an EHR sends
    await send();
  }));
  editMode.addEventListener("change", () => {
    requestBox.readOnly = !editMode.checked;
    sendEdited.hidden = !editMode.checked;
    fireButton.disabled = editMode.checked;
    fireButton.title = editMode.checked ? "Editing the request: send it from the integrator view" : "";
    if (editMode.checked) requestBox.focus();
  });
  sendEdited.addEventListener("click", busy(send));
  $("#reset").addEventListener("click", busy(buildRequest));
  $("#patient").addEventListener("change", (event) => event.target.form.submit());
  document.body.dataset.ready = "1";
})();
