// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  const POLL_MS = 2000;

  // Live progress for queued and running runs and scans: poll each one's progress URL until it finishes,
  // then reload once so the page shows the final figures.
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
      if (figure) figure.textContent = progress.text || progress.done + "/" + progress.expected;
      if (!progress.active) {
        clearInterval(timer);
        window.location.reload();
      }
    }, POLL_MS);
  }

  // The compare page's significance column: the permutation test runs once, after the page has
  // loaded, and its result is cached on the server for the next visit.
  function significanceMark(test) {
    const mark = document.createElement("span");
    const p = "p = " + Number(test.p_value).toPrecision(2);
    mark.className = test.significant ? "significant" : "muted";
    mark.title = p;
    mark.textContent = test.significant ? "★ " + p : p;
    return mark;
  }

  async function fillTests(table) {
    let result;
    try {
      const response = await fetch(table.dataset.testsUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      result = await response.json();
    } catch (error) {
      table.querySelectorAll("td[data-test-metric]").forEach(function (cell) {
        cell.textContent = "test failed, reload to retry";
      });
      return;
    }
    table.querySelectorAll("td[data-test-metric]").forEach(function (cell) {
      const test = result.metrics[cell.dataset.testMetric];
      cell.replaceChildren(test ? significanceMark(test) : "not tested");
      if (test) cell.closest("tr").classList.toggle("significant-row", test.significant);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(watch);
    document.querySelectorAll("table[data-tests-url]").forEach(fillTests);
  });
})();
