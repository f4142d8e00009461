// Guard console: draws the charts from the JSON each page carries (no inline script, see the page's CSP).
"use strict";

function readData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function drawActivity() {
  const canvas = document.getElementById("activity-chart");
  const data = readData("activity-data");
  if (!canvas || !data || typeof Chart === "undefined") return;
  const notice = data.notice;
  const baseline = data.days.map(() => data.baseline);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.days,
      datasets: [
        {
          label: "Requests per day",
          data: data.requests,
          backgroundColor: data.days.map((day) => (notice && day >= notice ? "#a40e26" : "#0b5cad")),
        },
        { label: "Usual level", data: baseline, type: "line", borderColor: "#555d66", pointRadius: 0, borderDash: [6, 4] },
      ],
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      plugins: { title: { display: Boolean(notice), text: notice ? "Notice given " + notice + " (red: after notice)" : "" } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

function drawTurnover() {
  const canvas = document.getElementById("turnover-chart");
  const rows = readData("turnover-data");
  if (!canvas || !rows || typeof Chart === "undefined") return;
  const months = [...new Set(rows.map((row) => row.month))].sort();
  const departments = [...new Set(rows.map((row) => row.department))].sort();
  const palette = ["#0b5cad", "#a40e26", "#116329", "#7a4a00", "#5a32a3", "#1b7c83"];
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: months,
      datasets: departments.map((department, index) => ({
        label: department,
        backgroundColor: palette[index % palette.length],
        data: months.map((month) => {
          const row = rows.find((r) => r.month === month && r.department === department);
          return row ? row.departures : 0;
        }),
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

function drawAlerts() {
  const canvas = document.getElementById("alerts-chart");
  const data = readData("alerts-data");
  if (!canvas || !data || typeof Chart === "undefined") return;
  const colours = { critical: "#a40e26", high: "#7a4a00", medium: "#0b5cad", low: "#555d66" };
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.days,
      datasets: Object.entries(data.series).map(([severity, counts]) => ({
        label: severity,
        data: counts,
        backgroundColor: colours[severity],
      })),
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

document.addEventListener("DOMContentLoaded", () => {
  drawActivity();
  drawTurnover();
  drawAlerts();
});
