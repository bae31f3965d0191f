/* The dashboard's charts (backoffice/views/dashboard.py): Chart.js draws each table's figures from the JSON
   data island #dashboard-data (no inline script: the Content-Security-Policy allows scripts from this site
   only). Each chart stands beside its table, which screen readers and exports use; without JavaScript the
   tables are the page and the chart boxes stay hidden. */
(function () {
  "use strict";
  var island = document.getElementById("dashboard-data");
  if (!island || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(island.textContent);
  var colours = ["#b3261e", "#1f5f99", "#1e6b35", "#a15c00", "#6b3fa0"];
  window.Chart.defaults.font.family = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", system-ui, sans-serif';
  window.Chart.defaults.animation = false;
  data.charts.forEach(function (spec) {
    var canvas = document.getElementById("chart-" + spec.id);
    if (!canvas || spec.labels.length === 0) {
      return;
    }
    canvas.parentElement.hidden = false;
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set, i) {
          return {
            label: set.label,
            data: set.data.map(function (v) { return v === null ? null : Number(v); }),
            backgroundColor: colours[i % colours.length],
            borderColor: colours[i % colours.length]
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { position: "bottom" }, title: { display: false } },
        scales: { y: { beginAtZero: true } }
      }
    });
    canvas.dataset.rendered = "1";
  });
  document.documentElement.dataset.charts = "ready";
})();
