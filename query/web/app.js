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
        t.dataset.name = d.name;
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
    renderAlerts(dash.alerts.items);
  }

  // alertItem is one alert line: device and rule, severity and age, and its acknowledgement.
  function alertItem(a, cls) {
    var li = el("li", "alert sev-" + a.severity + " state-" + a.state + (cls ? " " + cls : ""), (a.device || "(no device)") + ": " + a.rule + " ");
    li.dataset.id = a.id;
    li.dataset.state = a.state;
    li.appendChild(el("span", "muted", a.severity + " · " + ago(a.fired_at) + (a.summary ? " · " + a.summary : "")));
    if (a.ack_active) {
      li.appendChild(el("span", "ack", "ack " + a.acknowledged_by + (a.ack_note ? ": " + a.ack_note : "")));
    }
    return li;
  }

  // renderAlerts draws the root causes with what they hold under them: an alert suppressed by a
  // device's outage goes under that device's alert, or under a heading naming the device when it
  // has none open.
  function renderAlerts(items) {
    var byDevice = {}, held = {}, roots = [];
    items.forEach(function (a) {
      if (a.suppressed_by) {
        (held[a.suppressed_by] = held[a.suppressed_by] || []).push(a);
      } else {
        roots.push(a);
        if (a.device_id && !byDevice[a.device_id]) byDevice[a.device_id] = a;
      }
    });
    var al = document.getElementById("alert-list");
    var out = [];
    function group(li, children) {
      var ol = el("ol", "held");
      children.forEach(function (c) { ol.appendChild(alertItem(c, "child")); });
      li.appendChild(el("span", "held-count", children.length + " behind it"));
      li.appendChild(ol);
      li.classList.add("root-group");
    }
    roots.forEach(function (a) {
      var li = alertItem(a);
      if (a.device_id && byDevice[a.device_id] === a && held[a.device_id]) {
        group(li, held[a.device_id]);
        delete held[a.device_id];
      }
      out.push(li);
    });
    Object.keys(held).forEach(function (dev) {
      var li = el("li", "alert root-group orphan", "held by device " + dev + " ");
      li.dataset.root = dev;
      group(li, held[dev]);
      out.push(li);
    });
    al.replaceChildren.apply(al, out);
  }

  // showDevice lists one device's alert history, newest first, beside the tiles.
  function showDevice(id, name) {
    getJSON("/api/v1/alerts?device=" + encodeURIComponent(id) + "&limit=50").then(function (r) {
      var panel = document.getElementById("device-panel");
      panel.hidden = false;
      panel.dataset.id = id;
      setText("device-title", name + " · alert history (" + r.total + ")");
      var hl = document.getElementById("device-history");
      hl.replaceChildren.apply(hl, r.items.map(function (a) {
        var li = el("li", "sev-" + a.severity + " state-" + a.state, a.name + " ");
        li.appendChild(el("span", "muted", a.state + " · " + new Date(a.fired_at).toLocaleString() +
          (a.resolved_at ? " → " + new Date(a.resolved_at).toLocaleString() : "") + (a.summary ? " · " + a.summary : "")));
        if (a.ack) li.appendChild(el("span", "ack", "ack " + a.ack.by + ": " + a.ack.note));
        return li;
      }));
    }).catch(function (e) { setText("status", "device history failed: " + e.message); });
  }

  document.getElementById("branches").addEventListener("click", function (ev) {
    var t = ev.target.closest(".tile");
    if (t) showDevice(t.dataset.id, t.dataset.name);
  });

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
