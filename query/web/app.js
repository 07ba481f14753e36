// wardops NOC page: polls the dashboard and the device list and redraws. No framework, no CDN.
(function () {
  "use strict";
  var params = new URLSearchParams(location.search);
  var refreshMs = Math.max(1, Number(params.get("refresh")) || 5) * 1000;
  var filterBox = document.getElementById("filter");
  var lastDevices = [];
  var lastDash = null;

  function headers() {
    var h = { "Accept": "application/json" };
    var tok = localStorage.getItem("wardops_token");
    if (tok) h["Authorization"] = "Bearer " + tok;
    return h;
  }

  function getJSON(url) {
    return fetch(url, { headers: headers(), cache: "no-store" }).then(function (r) {
      if (r.status === 401) {
        var t = prompt("API token (read scope):");
        if (t) localStorage.setItem("wardops_token", t);
      }
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

  function ago(iso) {
    if (!iso) return "";
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 120) return s + "s";
    if (s < 7200) return Math.round(s / 60) + "m";
    if (s < 172800) return Math.round(s / 3600) + "h";
    return Math.round(s / 86400) + "d";
  }

  function setText(id, v) { document.getElementById(id).textContent = v; }

  function matches(d, q) {
    if (!q) return true;
    return (d.name + " " + d.ip + " " + d.branch + " " + d.region + " " + d.status + " " + d.vendor).toLowerCase().indexOf(q) >= 0;
  }

  function renderTiles() {
    var q = filterBox.value.trim().toLowerCase();
    // A Map, not a plain object: a branch named "constructor" or "__proto__" would otherwise hit
    // Object.prototype's own members and break the page.
    var groups = new Map();
    var order = [];
    lastDevices.forEach(function (d) {
      if (!matches(d, q)) return;
      if (!groups.has(d.branch)) { groups.set(d.branch, []); order.push(d.branch); }
      groups.get(d.branch).push(d);
    });
    order.sort();
    var root = document.getElementById("branches");
    var frag = document.createDocumentFragment();
    order.forEach(function (b) {
      var ds = groups.get(b);
      var c = { up: 0, down: 0, unknown: 0, disabled: 0 };
      ds.forEach(function (d) { if (Object.prototype.hasOwnProperty.call(c, d.status)) c[d.status]++; });
      var sec = el("div", "branch");
      sec.dataset.branch = b;
      var h = el("h3", "", b || "(no branch)");
      h.appendChild(el("span", "counts", ds.length + " devices · " + c.up + " up · " + c.down + " down · " + c.unknown + " unknown"));
      sec.appendChild(h);
      var tiles = el("div", "tiles");
      ds.forEach(function (d) {
        var t = el("div", "tile " + d.status, d.name.slice(-4));
        t.dataset.id = d.id;
        t.title = d.name + " " + d.ip + " — " + d.status +
          (d.rtt_ms != null ? " · " + d.rtt_ms.toFixed(1) + " ms" : "") +
          (d.down_since ? " · down " + ago(d.down_since) : "");
        tiles.appendChild(t);
      });
      sec.appendChild(tiles);
      frag.appendChild(sec);
    });
    root.replaceChildren(frag);
  }

  function renderDash(dash) {
    setText("total-devices", dash.totals.devices);
    setText("total-up", dash.totals.up);
    setText("total-down", dash.totals.down);
    setText("total-unknown", dash.totals.unknown);
    setText("total-disabled", dash.totals.disabled);
    var banner = document.getElementById("banner");
    if (dash.degraded) {
      banner.hidden = false;
      banner.textContent = "Degraded: live state from " + dash.source + ". " + dash.problems.join("; ");
    } else {
      banner.hidden = true;
    }
    setText("down-count", "(" + dash.down.length + ")");
    var dl = document.getElementById("down-list");
    dl.replaceChildren.apply(dl, dash.down.map(function (d) {
      var li = el("li", "", d.name + " ");
      li.dataset.id = d.id;
      li.appendChild(el("span", "muted", d.branch + " · " + d.ip + " · down " + ago(d.since)));
      return li;
    }));
    setText("alert-count", "(" + dash.alerts.total + ")");
    var al = document.getElementById("alert-list");
    al.replaceChildren.apply(al, dash.alerts.items.map(function (a) {
      var li = el("li", "sev-" + a.severity, a.device + ": " + a.rule + " ");
      li.appendChild(el("span", "muted", a.severity + " · " + ago(a.fired_at) + (a.summary ? " · " + a.summary : "")));
      return li;
    }));
  }

  function tick() {
    Promise.all([getJSON("/api/v1/dashboard"), getJSON("/api/v1/devices?limit=5000")]).then(function (r) {
      lastDash = r[0];
      lastDevices = r[1].items;
      renderDash(lastDash);
      renderTiles();
      var more = r[1].total > r[1].items.length ? " · showing " + r[1].items.length + " of " + r[1].total : "";
      setText("status", "updated " + new Date().toLocaleTimeString() + more);
      document.body.dataset.updated = String(Date.now());
    }).catch(function (e) {
      setText("status", "update failed: " + e.message);
    }).finally(function () {
      setTimeout(tick, refreshMs);
    });
  }

  filterBox.addEventListener("input", renderTiles);
  tick();
})();
