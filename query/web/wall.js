// wardops NOC wall: every device on one screen, branches as compact blocks with the problem ones
// first, a drawer per device with its RTT/loss sparkline and open alerts, acknowledgement from the
// page. No framework, no CDN; data is only ever set as text, never parsed as HTML.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var kiosk = params.get("kiosk") === "1";
  var refreshMs = Math.max(1, Number(params.get("refresh")) || 10) * 1000;
  var tokenKey = "wardops_token";
  var byID = new Map(); // device id (string) → device, from the last poll
  var openID = "";
  var pendingAck = null; // the alert id waiting for a token

  if (kiosk) document.body.classList.add("kiosk");

  // The token lives in sessionStorage only: a wall browser is shared, and closing the tab must
  // forget who acknowledged from it.
  function token() { return sessionStorage.getItem(tokenKey) || ""; }

  function request(method, url, body) {
    var h = new Headers({ "Accept": "application/json" });
    if (token()) h.set("Authorization", "Bearer " + token());
    var init = { method: method, headers: h, cache: "no-store" };
    if (body !== undefined) { h.set("Content-Type", "application/json"); init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (r) {
      if (r.status === 401 || r.status === 403) askToken(null);
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function setText(id, v) { document.getElementById(id).textContent = v; }

  function rank(b) { return [-b.down, -b.unknown, b.name]; }
  function cmp(a, b) {
    var x = rank(a), y = rank(b);
    for (var i = 0; i < x.length; i++) { if (x[i] < y[i]) return -1; if (x[i] > y[i]) return 1; }
    return 0;
  }

  // render draws every device; branches with a down device come first, then those with an
  // unknown one, each group by name, so the eye lands on trouble.
  function render(devices) {
    var groups = new Map();
    var totals = new Map([["up", 0], ["down", 0], ["unknown", 0], ["disabled", 0]]);
    byID = new Map();
    devices.forEach(function (d) {
      byID.set(String(d.id), d);
      var g = groups.get(d.branch);
      if (!g) { g = { name: d.branch || "(no branch)", devs: [], down: 0, unknown: 0, up: 0 }; groups.set(d.branch, g); }
      g.devs.push(d);
      if (d.status === "down") g.down++;
      if (d.status === "unknown") g.unknown++;
      if (d.status === "up") g.up++;
      if (totals.has(d.status)) totals.set(d.status, totals.get(d.status) + 1);
    });
    var list = Array.from(groups.values()).sort(cmp);
    var frag = document.createDocumentFragment();
    list.forEach(function (g) {
      var b = el("section", "wblock" + (g.down ? " has-down" : g.unknown ? " has-unknown" : ""));
      b.dataset.branch = g.name;
      var cols = Math.max(4, Math.ceil(Math.sqrt(g.devs.length * 2)));
      var h = el("h3", "", g.name);
      h.title = g.name + ": " + g.devs.length + " devices, " + g.up + " up, " + g.down + " down, " + g.unknown + " unknown";
      h.appendChild(el("span", "wc", g.down ? g.down + "↓" : g.unknown ? g.unknown + "?" : String(g.devs.length)));
      b.appendChild(h);
      var tiles = el("div", "wtiles");
      tiles.style.gridTemplateColumns = "repeat(" + cols + ", var(--tile))";
      h.style.maxWidth = "calc(" + cols + " * (var(--tile) + 2px))";
      g.devs.sort(function (x, y) { return x.name < y.name ? -1 : x.name > y.name ? 1 : 0; });
      g.devs.forEach(function (d) {
        var t = el("div", "wtile " + d.status + (String(d.id) === openID ? " selected" : ""));
        t.dataset.id = String(d.id);
        t.title = d.name + " · " + d.ip + " · " + d.status + (d.rtt_ms != null ? " · " + d.rtt_ms.toFixed(1) + " ms" : "");
        tiles.appendChild(t);
      });
      b.appendChild(tiles);
      frag.appendChild(b);
    });
    document.getElementById("wall").replaceChildren(frag);
    setText("w-devices", devices.length);
    totals.forEach(function (n, state) { setText("w-" + state, n); });
    fit();
  }

  // fit shrinks the tiles until the whole fleet fits the screen, and grows them back when it
  // shrinks: a wall has no one to scroll it.
  function fit() {
    var root = document.documentElement;
    var size = 40;
    for (; size > 4; size--) {
      root.style.setProperty("--tile", size + "px");
      if (root.scrollHeight <= window.innerHeight && root.scrollWidth <= window.innerWidth) break;
    }
    document.body.dataset.tile = String(size);
  }
  window.addEventListener("resize", fit);

  function poll() {
    request("GET", "/api/v1/devices?limit=5000").then(function (r) {
      render(r.items);
      var more = r.total > r.items.length ? " · showing " + r.items.length + " of " + r.total : "";
      if (!document.body.classList.contains("overfull")) setText("w-status", "updated " + new Date().toLocaleTimeString() + more);
      document.body.dataset.updated = String(Date.now());
      if (openID) loadAlerts(openID);
    }).catch(function (e) { setText("w-status", "update failed: " + e.message); })
      .finally(function () { setTimeout(poll, refreshMs); });
  }

  // sparkline draws one series as a polyline scaled into its band of the 400×90 box.
  function sparkline(svg, points, cls, top, height, maxV) {
    if (points.length < 2) return 0;
    var t0 = points[0][0], t1 = points[points.length - 1][0];
    var hi = maxV || Math.max.apply(null, points.map(function (p) { return p[1]; })) || 1;
    var pts = points.map(function (p) {
      var x = (p[0] - t0) / Math.max(1, t1 - t0) * 398 + 1;
      var y = top + height - (p[1] / hi) * height;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    var line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("class", cls);
    line.setAttribute("points", pts.join(" "));
    svg.appendChild(line);
    return hi;
  }

  function series(item) {
    var now = Math.floor(Date.now() / 1000);
    return request("GET", "/api/v1/devices/" + encodeURIComponent(openID) + "/metrics?item=" + item +
      "&from=" + (now - 3600) + "&to=" + now + "&step=60s").then(function (r) {
      return r.series.length ? r.series[0].points : [];
    });
  }

  function openDrawer(id) {
    var d = byID.get(id);
    if (!d) return;
    openID = id;
    document.querySelectorAll(".wtile.selected").forEach(function (t) { t.classList.remove("selected"); });
    var tile = document.querySelector('.wtile[data-id="' + CSS.escape(id) + '"]');
    if (tile) tile.classList.add("selected");
    var dr = document.getElementById("drawer");
    dr.hidden = false;
    dr.dataset.id = id;
    setText("d-name", d.name);
    setText("d-info", d.ip + " · " + d.branch + " · " + d.region + " · " + d.vendor + " · " + d.status +
      (d.down_since ? " since " + new Date(d.down_since).toLocaleString() : ""));
    var svg = document.getElementById("spark");
    svg.replaceChildren();
    setText("d-spark-note", "loading…");
    Promise.all([series("ping_rtt_seconds"), series("ping_loss_ratio")]).then(function (r) {
      if (openID !== id) return;
      var rtt = r[0].map(function (p) { return [p[0], p[1] * 1000]; });
      var hi = sparkline(svg, rtt, "rtt", 4, 56);
      sparkline(svg, r[1], "loss", 64, 22, 1);
      var last = rtt.length ? rtt[rtt.length - 1][1].toFixed(1) + " ms now" : "no RTT samples";
      setText("d-spark-note", last + (hi ? " · peak " + hi.toFixed(1) + " ms" : "") + " · loss below, 0–100 %");
    }).catch(function (e) { setText("d-spark-note", "metrics unavailable: " + e.message); });
    loadAlerts(id);
  }

  function loadAlerts(id) {
    request("GET", "/api/v1/alerts?device=" + encodeURIComponent(id) + "&limit=100").then(function (r) {
      if (openID !== id) return;
      var open = r.items.filter(function (a) { return !a.resolved_at; });
      setText("d-alert-count", "(" + open.length + ")");
      var ol = document.getElementById("d-alerts");
      ol.replaceChildren.apply(ol, open.map(function (a) {
        var li = el("li", "sev-" + a.severity, a.name + " · " + a.severity + " · " + a.state + (a.summary ? " · " + a.summary : ""));
        li.dataset.id = String(a.id);
        if (a.ack && a.ack.active) {
          li.appendChild(el("span", "ack", "ack " + a.ack.by + ": " + a.ack.note));
        } else {
          var b = el("button", "ack-button", "acknowledge");
          b.type = "button";
          b.dataset.alert = String(a.id);
          li.appendChild(b);
        }
        return li;
      }));
    }).catch(function (e) { setText("d-ack-status", "alerts unavailable: " + e.message); });
  }

  function askToken(alertID) {
    pendingAck = alertID;
    var f = document.getElementById("token-form");
    f.hidden = false;
    document.getElementById("token").focus();
  }

  function ack(alertID) {
    if (!token()) { askToken(alertID); return; }
    var note = document.getElementById("ack-note").value.trim() || "acknowledged from the wall";
    setText("d-ack-status", "acknowledging…");
    request("POST", "/api/v1/alerts/" + encodeURIComponent(alertID) + "/ack", { note: note }).then(function () {
      setText("d-ack-status", "acknowledged alert " + alertID);
      loadAlerts(openID);
    }).catch(function (e) { setText("d-ack-status", "acknowledge failed: " + e.message); });
  }

  document.getElementById("wall").addEventListener("click", function (ev) {
    var t = ev.target.closest(".wtile");
    if (t) openDrawer(t.dataset.id);
  });
  document.getElementById("drawer-close").addEventListener("click", function () {
    document.getElementById("drawer").hidden = true;
    openID = "";
  });
  document.getElementById("d-alerts").addEventListener("click", function (ev) {
    var b = ev.target.closest("button.ack-button");
    if (b) ack(b.dataset.alert);
  });
  document.getElementById("token-button").addEventListener("click", function () { askToken(null); });
  document.getElementById("token-cancel").addEventListener("click", function () {
    document.getElementById("token-form").hidden = true;
    pendingAck = null;
  });
  document.getElementById("token-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var v = document.getElementById("token").value.trim();
    if (v) sessionStorage.setItem(tokenKey, v);
    document.getElementById("token").value = "";
    document.getElementById("token-form").hidden = true;
    var id = pendingAck;
    pendingAck = null;
    if (id && v) ack(id);
  });

  // A kiosk is left alone for weeks: reload now and then so an upgraded binary's page is served.
  if (kiosk) setTimeout(function () { location.reload(); }, 6 * 3600 * 1000);
  poll();
})();
