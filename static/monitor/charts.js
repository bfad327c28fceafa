// Charts with the vendored uPlot: every <figure data-chart-source="ID" data-chart-index="N">
// draws chart N of the JSON in <script id="ID" type="application/json"> (from json_script, so no
// inline script is needed). A chart has one or more series {label, t, v, lo, hi}; the first
// series gets a band (its CI, or the range of a time bucket), a dashed baseline line when the
// chart has one, and vertical markers for alert events or compared runs.
(function () {
  "use strict";
  const COLOURS = ["#1f6feb", "#bf3989", "#1a7f37", "#9a6700"];
  const MARKER_COLOURS = { fired: "#cf222e", resolved: "#1a7f37", run: "#5f6b7a" };
  const HEIGHT = 180;

  function chartsOf(sourceId) {
    const source = document.getElementById(sourceId);
    return source ? JSON.parse(source.textContent) : [];
  }

  // uPlot wants one shared x axis: merge the series' times and leave gaps where a series has
  // no point at a time.
  function alignedData(chart) {
    const times = Array.from(new Set(chart.series.flatMap((s) => s.t))).sort((a, b) => a - b);
    const columns = [times];
    chart.series.forEach(function (series, index) {
      const byTime = new Map(series.t.map((t, i) => [t, i]));
      const pick = (values) => times.map((t) => (byTime.has(t) ? values[byTime.get(t)] : null));
      columns.push(pick(series.v));
      if (index === 0) {
        columns.push(pick(series.lo), pick(series.hi));
      }
    });
    if (chart.baseline !== null) columns.push(times.map(() => chart.baseline));
    return columns;
  }

  function seriesOptions(chart) {
    const options = [{}];
    chart.series.forEach(function (series, index) {
      const colour = COLOURS[index % COLOURS.length];
      options.push({ label: series.label, stroke: colour, width: 2, spanGaps: true,
                     points: { show: series.t.length < 60, size: 5, fill: colour } });
      if (index === 0) {
        const band = series.bucketed ? "range" : "95% CI";
        options.push({ label: band + " low", stroke: "transparent", points: { show: false } },
                     { label: band + " high", stroke: "transparent", points: { show: false } });
      }
    });
    if (chart.baseline !== null) {
      options.push({ label: "baseline", stroke: "#5f6b7a", dash: [6, 4], width: 1.5,
                     points: { show: false } });
    }
    return options;
  }

  function drawMarkers(chart) {
    return function (plot) {
      const context = plot.ctx;
      const { top, height } = plot.bbox;
      chart.markers.forEach(function (marker) {
        const x = Math.round(plot.valToPos(marker.t, "x", true));
        if (x < plot.bbox.left || x > plot.bbox.left + plot.bbox.width) return;
        context.save();
        context.strokeStyle = MARKER_COLOURS[marker.kind] || "#5f6b7a";
        context.lineWidth = 2 * devicePixelRatio;
        context.setLineDash(marker.kind === "run" ? [4 * devicePixelRatio, 3 * devicePixelRatio] : []);
        context.beginPath();
        context.moveTo(x, top);
        context.lineTo(x, top + height);
        context.stroke();
        context.fillStyle = context.strokeStyle;
        context.font = 11 * devicePixelRatio + "px system-ui, sans-serif";
        // Labels near the right edge go on the left of their line, so they stay readable.
        const labelWidth = context.measureText(marker.label).width;
        const nearRight = x + labelWidth + 6 * devicePixelRatio > plot.bbox.left + plot.bbox.width;
        const labelX = nearRight ? x - labelWidth - 3 * devicePixelRatio : x + 3 * devicePixelRatio;
        context.fillText(marker.label, labelX, top + 12 * devicePixelRatio);
        context.restore();
      });
    };
  }

  // A legend of the drawn lines only (uPlot's own would also list the band's edges).
  function legend(chart) {
    const list = document.createElement("ul");
    list.className = "chart-legend";
    const entries = chart.series.map((series, index) => [series.label, COLOURS[index % COLOURS.length], false]);
    if (chart.baseline !== null) entries.push(["baseline", "#5f6b7a", true]);
    entries.forEach(function ([label, colour, dashed]) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = dashed ? "swatch dashed" : "swatch";
      swatch.style.borderColor = colour;
      item.append(swatch, label);
      list.append(item);
    });
    return list;
  }

  // A single run would give uPlot an empty x range: show the hour either side of it.
  function xScale(times) {
    if (times.length !== 1) return { time: true };
    return { time: true, range: [times[0] - 3600, times[0] + 3600] };
  }

  function draw(figure) {
    const chart = chartsOf(figure.dataset.chartSource)[Number(figure.dataset.chartIndex)];
    const target = figure.querySelector(".chart-canvas");
    if (!chart || !target || !chart.series.length) return;
    const data = alignedData(chart);
    const options = {
      width: Math.max(240, target.clientWidth),
      height: HEIGHT,
      series: seriesOptions(chart),
      bands: [{ series: [3, 2], fill: "rgba(31, 111, 235, 0.15)" }],
      scales: { x: xScale(data[0]) },
      axes: [{}, { size: 56 }],
      legend: { show: false },
      hooks: { draw: [drawMarkers(chart)] },
    };
    const plot = new uPlot(options, data, target);
    target.after(legend(chart));
    figure.dataset.drawn = "true";
    new ResizeObserver(function () {
      plot.setSize({ width: Math.max(240, target.clientWidth), height: HEIGHT });
    }).observe(target);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("figure[data-chart-source]").forEach(draw);
  });
})();
