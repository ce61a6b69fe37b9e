"use strict";
// The print button: a script file, not an inline handler, so the page's CSP can forbid inline.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
