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

  // The compare page's significance column: a scoring worker computes the test in the
  // background. Poll until it is done and fill the column in, or reload to show why it failed.
  function significanceMark(test) {
    const mark = document.createElement("span");
    const p = "p = " + Number(test.p_value).toPrecision(2);
    mark.className = test.significant ? "significant" : "muted";
    mark.title = p;
    mark.textContent = test.significant ? "★ " + p : p;
    return mark;
  }

  function fillTests(table, metrics) {
    table.querySelectorAll("td[data-test-metric]").forEach(function (cell) {
      const test = metrics[cell.dataset.testMetric];
      cell.replaceChildren(test ? significanceMark(test) : "not tested");
      if (test) cell.closest("tr").classList.toggle("significant-row", test.significant);
    });
  }

  // A test not yet asked for is asked for (a POST, CSRF-protected) before it is polled. While the
  // scoring queue holds as many tests as allowed the answer is 429: show why, and let the user
  // ask again.
  async function requestTest(table) {
    const refused = document.getElementById("test-refused");
    let response;
    try {
      response = await fetch(table.dataset.testsUrl, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": table.dataset.csrfToken },
      });
    } catch (error) {
      response = null;
    }
    if (response && response.ok) {
      if (refused) refused.hidden = true;
      pollTests(table);
      return;
    }
    let message = "The significance test could not be asked for: try again.";
    if (response) {
      try {
        message = (await response.json()).error || message;
      } catch (error) {
        // not JSON: keep the generic message
      }
    }
    const status = document.getElementById("test-status");
    if (status) status.textContent = "";
    table.querySelectorAll("td[data-test-metric]").forEach(function (cell) {
      cell.textContent = "not tested";
    });
    if (refused) {
      refused.querySelector(".message").textContent = message;
      refused.querySelector(".retry").hidden = response !== null && response.status === 400;
      refused.hidden = false;
    }
  }

  function pollTests(table) {
    const status = document.getElementById("test-status");
    const timer = setInterval(async function () {
      let test;
      try {
        const response = await fetch(table.dataset.testsUrl, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        test = await response.json();
      } catch (error) {
        return; // a dropped poll is retried on the next tick
      }
      if (status) status.textContent = test.progress;
      if (test.status === "failed") {
        clearInterval(timer);
        window.location.reload();
      } else if (test.status === "succeeded") {
        clearInterval(timer);
        if (status) status.remove();
        fillTests(table, test.metrics);
      }
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-progress-url]").forEach(watch);
    document.querySelectorAll("table[data-tests-url]").forEach(function (table) {
      if ("requestTest" in table.dataset) {
        requestTest(table);
        const retry = document.querySelector("#test-refused .retry");
        if (retry) retry.addEventListener("click", function () { requestTest(table); });
      } else {
        pollTests(table);
      }
    });
  });
})();
