// tracelet report: the glue between the page and plotly.js (inlined into the HTML file).
// Charts are drawn when their tab is first shown. Curves come as base64 float64 arrays of
// steps (x), seconds since the run started (t) and values (y). Smoothing is a debiased
// exponential moving average (as TensorBoard's) over the plotted points. The x axis is the
// step or the time, chosen per tab (System starts with time: its steps count samples).
// <html data-status="ready"> once every chart of the shown tab is drawn.
(function () {
  "use strict";
  var root = document.documentElement;
  var errors = document.getElementById("report-errors");
  function fail(message) {
    errors.hidden = false;
    errors.textContent += (errors.textContent ? "\n" : "") + message;
    root.dataset.errors = String((Number(root.dataset.errors) || 0) + 1);
  }
  window.addEventListener("error", function (e) { fail("script error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) { fail("error: " + e.reason); });

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var charts = {};
  data.charts.forEach(function (c) { charts[c.id] = c; });
  var hiddenRuns = {};
  var smoothing = 0;
  var logY = false;
  var xMode = { metrics: "step", system: "time" };
  var CONFIG = { displaylogo: false, responsive: true,
                 modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function decode(b64) {
    var text = atob(b64);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new Float64Array(bytes.buffer);
  }

  function ema(ys, weight) {
    var out = new Float64Array(ys.length);
    var last = 0, n = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (!isFinite(y)) { out[i] = y; continue; }
      last = last * weight + (1 - weight) * y;
      n += 1;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  function ysOf(trace) { return smoothing > 0 ? ema(trace.ys, smoothing) : trace.ys; }
  function xsOf(trace, mode) { return mode === "time" ? trace.ts : trace.xs; }
  function xTitle(mode) { return mode === "time" ? "seconds since the run started" : "step"; }

  function lineData(chart, mode) {
    return chart.traces.map(function (t) {
      if (!t.ys) { t.xs = decode(t.x); t.ts = decode(t.t); t.ys = decode(t.y); }
      var run = data.runs[t.run];
      var xLabel = mode === "time" ? "%{x:.1f} s" : "step %{x}";
      return {
        type: "scatter", mode: t.ys.length > 1 ? "lines" : "markers", x: xsOf(t, mode),
        y: ysOf(t), name: run.label, line: { color: run.color, width: 1.5 },
        marker: { color: run.color }, visible: !hiddenRuns[t.run],
        hovertemplate: "%{fullData.name}<br>" + xLabel + "<br>%{y:.6g}<extra></extra>"
      };
    });
  }

  function histogramData(chart) {
    return chart.traces.map(function (t) {
      var run = data.runs[t.run];
      return {
        type: "scatter", mode: "lines", x: t.x, y: t.y, name: run.label + " (step " + t.step + ")",
        line: { color: run.color, shape: "hvh", width: 1.5 }, visible: !hiddenRuns[t.run]
      };
    });
  }

  function layout(xTitle) {
    return {
      margin: { l: 55, r: 10, t: 8, b: 38 }, showlegend: false, hovermode: "closest",
      xaxis: { title: { text: xTitle }, automargin: true },
      yaxis: { type: logY ? "log" : "linear", automargin: true, exponentformat: "power" },
      uirevision: "keep"
    };
  }

  function draw(el) {
    var chart = charts[el.dataset.chart];
    el.dataset.rendered = "pending";
    var drawn;
    if (chart.kind === "line") {
      var mode = xMode[chart.tab];
      el.dataset.x = mode;
      drawn = Plotly.newPlot(el, lineData(chart, mode), layout(xTitle(mode)), CONFIG);
    } else if (chart.kind === "histogram") {
      drawn = Plotly.newPlot(el, histogramData(chart), layout("value"), CONFIG);
    } else {
      var figure = chart.figure;
      drawn = Plotly.newPlot(el, figure.data || [], figure.layout || {}, CONFIG);
    }
    drawn.then(function () {
      el.dataset.rendered = "yes";
      updateStatus();
    }, function (err) {
      el.dataset.rendered = "failed";
      fail("chart " + (chart.name || chart.id) + ": " + err);
      updateStatus();
    });
  }

  function activePanel() { return document.querySelector(".panel.active"); }

  function visibleCharts(panel) {
    return Array.prototype.filter.call(panel.querySelectorAll("[data-chart]"), function (el) {
      return el.offsetParent !== null;
    });
  }

  function drawVisible() {
    var panel = activePanel();
    visibleCharts(panel).forEach(function (el) {
      if (!el.dataset.rendered) draw(el);
      else if (el.dataset.rendered === "yes") Plotly.Plots.resize(el);
    });
    updateStatus();
  }

  function updateStatus() {
    var waiting = visibleCharts(activePanel()).some(function (el) {
      return el.dataset.rendered !== "yes" && el.dataset.rendered !== "failed";
    });
    root.dataset.status = waiting ? "drawing" : "ready";
  }

  function showTab(name) {
    var panel = document.getElementById("panel-" + name) || document.querySelector(".panel");
    name = panel.dataset.panel;
    document.querySelectorAll(".panel").forEach(function (p) {
      p.classList.toggle("active", p === panel);
    });
    document.querySelectorAll(".tab").forEach(function (t) {
      t.classList.toggle("active", t.dataset.tab === name);
    });
    document.getElementById("toolbar").hidden = !(name in xMode);
    if (name in xMode) document.getElementById("x-axis").value = xMode[name];
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    drawVisible();
  }

  function eachDrawn(kind, fn) {
    document.querySelectorAll("[data-rendered=yes]").forEach(function (el) {
      var chart = charts[el.dataset.chart];
      if (chart.kind === kind || kind === "*") fn(el, chart);
    });
  }

  document.querySelectorAll(".tab").forEach(function (tab) {
    tab.addEventListener("click", function () { showTab(tab.dataset.tab); });
  });

  var pendingSmooth = false;
  document.getElementById("smoothing").addEventListener("input", function (e) {
    smoothing = Number(e.target.value);
    document.getElementById("smoothing-value").textContent = smoothing.toFixed(2);
    if (pendingSmooth) return;
    pendingSmooth = true;
    requestAnimationFrame(function () {
      pendingSmooth = false;
      eachDrawn("line", function (el, chart) {
        Plotly.restyle(el, { y: chart.traces.map(ysOf) });
      });
    });
  });

  document.getElementById("x-axis").addEventListener("change", function (e) {
    var tab = activePanel().dataset.panel;
    xMode[tab] = e.target.value;
    eachDrawn("line", function (el, chart) {
      if (chart.tab !== tab) return;
      el.dataset.x = xMode[tab];
      var xs = chart.traces.map(function (t) { return xsOf(t, xMode[tab]); });
      var hover = xMode[tab] === "time" ? "%{x:.1f} s" : "step %{x}";
      Plotly.update(el, { x: xs, hovertemplate: chart.traces.map(function () {
        return "%{fullData.name}<br>" + hover + "<br>%{y:.6g}<extra></extra>";
      }) }, { "xaxis.title.text": xTitle(xMode[tab]), "xaxis.autorange": true });
    });
  });

  document.getElementById("log-y").addEventListener("change", function (e) {
    logY = e.target.checked;
    eachDrawn("line", function (el) {
      Plotly.relayout(el, { "yaxis.type": logY ? "log" : "linear" });
    });
  });

  document.getElementById("metric-filter").addEventListener("input", function (e) {
    var words = e.target.value.toLowerCase();
    document.querySelectorAll(".chart-box[data-name]").forEach(function (box) {
      box.hidden = words !== "" && box.dataset.name.toLowerCase().indexOf(words) < 0;
    });
    drawVisible();
  });

  document.querySelectorAll(".chip").forEach(function (chip) {
    chip.addEventListener("click", function () {
      var run = Number(chip.dataset.run);
      hiddenRuns[run] = !hiddenRuns[run];
      chip.classList.toggle("off", hiddenRuns[run]);
      eachDrawn("*", function (el, chart) {
        if (!chart.traces) return;
        Plotly.restyle(el, { visible: chart.traces.map(function (t) { return !hiddenRuns[t.run]; }) });
      });
    });
  });

  var onlyDiffering = document.getElementById("only-differing");
  if (onlyDiffering) {
    onlyDiffering.addEventListener("change", function () {
      document.getElementById("params-table").classList.toggle("only-differing",
                                                             onlyDiffering.checked);
    });
  }

  document.querySelectorAll("figure.media img").forEach(function (img) {
    img.addEventListener("click", function () { img.classList.toggle("big"); });
  });

  var first = location.hash.slice(1);
  if (!document.getElementById("panel-" + first)) {
    first = document.querySelector("#panel-metrics [data-chart]") ? "metrics" : "runs";
  }
  showTab(first);
})();
