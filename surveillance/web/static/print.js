// "Print" buttons (data-print): the browser's print dialog, with the print style sheet.
document.querySelectorAll("[data-print]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
