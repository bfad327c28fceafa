// Live progress for queued and running runs: poll each one's progress URL until it finishes,
// then reload once so the page shows the final figures.
(function () {
  "use strict";
  const POLL_MS = 2000;

  function watch(element) {
    const url = element.dataset.progressUrl;
    const timer = setInterval(async function () {
      let progress;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        progress = await response.json();
      } catch (error) {
        return; // a dropped poll is retried on the next tick
      }
      const figure = element.querySelector(".progress-figure");
      if (figure) figure.textContent = progress.done + "/" + progress.expected;
      if (!progress.active) {
        clearInterval(timer);
        window.location.reload();
      }
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(watch);
  });
})();
