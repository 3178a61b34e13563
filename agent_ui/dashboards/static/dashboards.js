// Stik dashboards: the live wallboard over its WebSocket, the report's charts, printing.
(function () {
  "use strict";

  // The same formatting as format_figure in agent_ui/dashboards/__init__.py.
  function figure(value, unit) {
    if (value === null || value === undefined) return "—";
    if (unit === "share") return (value * 100).toFixed(1) + " %";
    if (unit === "seconds") {
      const whole = Math.round(value);
      return whole >= 60 ? Math.floor(whole / 60) + ":" + String(whole % 60).padStart(2, "0") : whole + " s";
    }
    return Number.isInteger(value) ? String(value) : String(Math.round(value * 1000) / 1000);
  }

  // Colour that reads at a distance: good, warn or bad for the figures that have a target.
  function level(code, value, target) {
    if (value === null || value === undefined) return "";
    switch (code) {
      case "service_level": return value >= 0.8 ? "good" : value >= 0.7 ? "warn" : "bad";
      case "abandonment_rate": return value <= 0.05 ? "good" : value <= 0.1 ? "warn" : "bad";
      case "longest_wait": return value <= target ? "good" : value <= 3 * target ? "warn" : "bad";
      case "waiting": return value === 0 ? "good" : value <= 5 ? "warn" : "bad";
      case "tickets_breached": return value === 0 ? "good" : "bad";
      case "tickets_at_risk": return value === 0 ? "good" : "warn";
      default: return "";
    }
  }

  function paint(board, root) {
    const target = board.target_s;
    const rows = [board.total].concat(board.queues);
    for (const row of rows) {
      const key = row.queue_id === null ? "total" : String(row.queue_id);
      const holder = root.querySelector('[data-row="' + key + '"]');
      if (!holder) continue;
      for (const cell of holder.querySelectorAll("[data-figure]")) {
        const code = cell.dataset.figure;
        cell.textContent = figure(row[code], cell.dataset.unit);
        cell.classList.remove("good", "warn", "bad");
        const found = level(code, row[code], target);
        if (found) cell.classList.add(found);
      }
    }
    const updated = root.querySelector("[data-updated]");
    if (updated) updated.textContent = new Date(board.at).toLocaleTimeString();
    root.dataset.lastUpdate = String(Date.now());
  }

  function wallboard(root) {
    let pause = 500;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + location.host + root.dataset.ws);
      socket.addEventListener("open", function () {
        pause = 500;
        root.classList.remove("stale");
      });
      socket.addEventListener("message", function (event) {
        const message = JSON.parse(event.data);
        if (message.kind === "wallboard") paint(message.payload, root);
      });
      socket.addEventListener("close", function () {
        root.classList.add("stale");
        setTimeout(connect, pause);
        pause = Math.min(pause * 2, 15000);
      });
    }
    connect();
  }

  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

  function charts() {
    const data = JSON.parse(document.getElementById("report-data").textContent);
    if (typeof Chart === "undefined") return;
    Chart.defaults.animation = false;
    const hours = Array.from({ length: 24 }, function (_, h) { return h; });
    const channels = Array.from(new Set(data.volume_by_hour.rows.map(function (r) { return r.channel; })));
    bar("chart-volume_by_hour", hours.map(String), channels.map(function (ch, i) {
      return {
        label: ch,
        backgroundColor: COLOURS[i % COLOURS.length],
        data: hours.map(function (h) {
          const row = data.volume_by_hour.rows.find(function (r) { return r.hour === h && r.channel === ch; });
          return row ? row.contacts : 0;
        }),
      };
    }), true);
    const days = data.service_level_by_day.rows;
    new Chart(document.getElementById("chart-service_level_by_day"), {
      type: "line",
      data: {
        labels: days.map(function (r) { return r.day; }),
        datasets: [{ label: "%", borderColor: COLOURS[2], data: days.map(function (r) { return r.service_level === null ? null : r.service_level * 100; }) }],
      },
      options: { scales: { y: { min: 0, max: 100 } } },
    });
    const backlog = data.backlog_by_age.rows;
    bar("chart-backlog_by_age", backlog.map(function (r) { return r.age; }),
      [{ label: "#", backgroundColor: COLOURS[1], data: backlog.map(function (r) { return r.tickets; }) }]);
    const breaches = data.breaches_by_category.rows;
    bar("chart-breaches_by_category", breaches.map(function (r) { return (r.category || "—") + " · " + r.metric; }),
      [{ label: "#", backgroundColor: COLOURS[3], data: breaches.map(function (r) { return r.breaches; }) }]);
  }

  function bar(id, labels, datasets, stacked) {
    new Chart(document.getElementById(id), {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: { scales: { x: { stacked: !!stacked }, y: { stacked: !!stacked, beginAtZero: true } } },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.getElementById("wallboard");
    if (root) wallboard(root);
    if (document.getElementById("report-data")) charts();
    for (const button of document.querySelectorAll("[data-print]")) {
      button.addEventListener("click", function () { window.print(); });
    }
  });
})();
