// The back office's scanning pages: a list kept in the page, filled by a barcode scanner (it
// types the code and Enter) or the keyboard, sent once as JSON. One script, five kinds of list
// (the page says which in data-mode): "order" (a draft purchase order's lines), "receive" (a
// delivery against an order), "count" (a stocktake), "transfer" (what to send) and "arrive"
// (what came of a transfer). No inline code anywhere: strings and lines come in json_script blocks.
(function () {
  "use strict";
  var root = document.getElementById("scan-app");
  if (!root) return;
  var mode = root.dataset.mode;
  var strings = JSON.parse(document.getElementById("scan-strings").textContent);
  var given = document.getElementById("scan-lines");
  var rows = given ? JSON.parse(given.textContent) : [];
  var fixed = mode === "receive" || mode === "arrive"; // only the lines of the document itself
  var scan = document.getElementById("scan");
  var message = document.getElementById("message");
  var pending = document.getElementById("pending");
  var choices = document.getElementById("choices");
  var body = document.getElementById("lines");
  var empty = document.getElementById("empty");
  var save = document.getElementById("save");
  var saveStatus = document.getElementById("save-status");
  var note = document.getElementById("note");
  var queue = [];
  var busy = false;
  var waiting = false; // a choice among several products is on screen
  var dirty = false;
  var last = null; // the row + and - change
  var cache = {};
  var submitWhenDone = false; // F2 pressed while codes were still being looked up

  rows.forEach(function (row) {
    if (fixed) row.now = 0;
    if (mode === "order") row.quantity = row.quantity || 0;
  });

  function say(text, kind) {
    message.textContent = text || "";
    message.className = "alert " + (kind || "error");
    message.hidden = !text;
  }
  function setDirty(value) {
    dirty = value;
    if (saveStatus) saveStatus.textContent = dirty ? strings.unsaved : "";
    var after = document.getElementById("after-save");
    if (after) after.disabled = dirty;
  }
  function key(row) { return row.line || row.id; }
  function cellText(text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text === undefined || text === null ? "" : String(text);
    return td;
  }
  function numberInput(value, label, onChange, attributes) {
    var input = document.createElement("input");
    input.type = "number";
    input.min = "0";
    input.inputMode = "numeric";
    input.className = "qty-input";
    input.value = value;
    input.setAttribute("aria-label", label);
    Object.keys(attributes || {}).forEach(function (name) { input.setAttribute(name, attributes[name]); });
    input.addEventListener("change", function () { onChange(input.value); });
    return input;
  }
  function whole(text) {
    var value = parseInt(text, 10);
    return isNaN(value) || value < 0 ? 0 : Math.min(value, 10000000);
  }

  function render() {
    body.textContent = "";
    var shown = fixed ? rows : rows.filter(function (row) { return row.touched || mode !== "count"; });
    shown.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.product = row.id;
      if (row === last) tr.className = "last";
      var name = document.createElement("td");
      name.appendChild(document.createTextNode(row.name));
      var small = document.createElement("div");
      small.className = "small muted";
      small.textContent = row.sku + (row.barcode ? " · " + row.barcode : "");
      name.appendChild(small);
      tr.appendChild(name);
      if (mode === "order") {
        var qty = cellText(undefined, "num");
        qty.appendChild(numberInput(row.quantity, row.name, function (v) { row.quantity = whole(v); setDirty(true); render(); }, { min: "1" }));
        tr.appendChild(qty);
        var cost = cellText(undefined, "num");
        var costInput = document.createElement("input");
        costInput.inputMode = "decimal";
        costInput.className = "cost-input";
        costInput.value = row.unit_cost || row.cost || "0.00";
        costInput.setAttribute("aria-label", row.name);
        costInput.addEventListener("change", function () { row.unit_cost = costInput.value.trim(); setDirty(true); });
        cost.appendChild(costInput);
        tr.appendChild(cost);
      } else if (mode === "transfer") {
        var sent = cellText(undefined, "num");
        sent.appendChild(numberInput(row.quantity, row.name, function (v) { row.quantity = whole(v); setDirty(true); render(); }, { min: "1" }));
        tr.appendChild(sent);
        tr.appendChild(cellText(row.stock, "num muted"));
      } else if (mode === "receive") {
        tr.appendChild(cellText(row.received, "num muted"));
        tr.appendChild(cellText(row.outstanding, "num"));
        var now = cellText(undefined, "num");
        now.appendChild(numberInput(row.now, row.name, function (v) { row.now = whole(v); setDirty(true); render(); }, { max: String(row.outstanding) }));
        tr.appendChild(now);
        if (row.now > row.outstanding) { tr.className += " over"; tr.title = strings.over; }
      } else if (mode === "arrive") {
        tr.appendChild(cellText(row.sent, "num"));
        var came = cellText(undefined, "num");
        came.appendChild(numberInput(row.now, row.name, function (v) { row.now = whole(v); setDirty(true); render(); }, { max: String(row.sent) }));
        tr.appendChild(came);
        if (row.now > row.sent) { tr.className += " over"; tr.title = strings.over; }
      } else if (mode === "count") {
        var saved = cellText(row.counted === null || row.counted === undefined ? "–" : row.counted, "num");
        if (row.counted_by) {
          var who = document.createElement("div");
          who.className = "small muted";
          who.textContent = strings.by + " " + row.counted_by;
          saved.appendChild(who);
        }
        tr.appendChild(saved);
        var tally = cellText(undefined, "num");
        tally.appendChild(numberInput(row.tally, row.name, function (v) { row.tally = whole(v); row.changed = true; setDirty(true); render(); }));
        tr.appendChild(tally);
      }
      if (!fixed) {
        var remove = document.createElement("td");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "small remove";
        button.textContent = "×";
        button.setAttribute("aria-label", strings.remove + " " + row.name);
        button.addEventListener("click", function () { drop(row); });
        remove.appendChild(button);
        tr.appendChild(remove);
      }
      body.appendChild(tr);
    });
    if (empty) empty.hidden = shown.length > 0;
    var total = document.getElementById("scan-total");
    if (total) {
      var sum = 0;
      rows.forEach(function (row) { sum += fixed ? row.now : mode === "count" ? (row.touched ? row.tally : 0) : row.quantity; });
      total.textContent = String(sum);
    }
    if (mode === "arrive") {
      var short = rows.some(function (row) { return row.now < row.sent; });
      document.getElementById("short-note").hidden = !short;
    }
  }

  function drop(row) {
    if (mode === "count") { row.touched = false; row.changed = false; row.tally = 0; }
    else rows.splice(rows.indexOf(row), 1);
    if (last === row) last = null;
    setDirty(true);
    render();
    scan.focus();
  }

  function apply(product, count) {
    var row = rows.filter(function (r) { return r.id === product.id; })[0];
    if (!row) {
      if (fixed) { say(strings.not_on_list.replace("%s", product.sku)); return; }
      row = {
        id: product.id, sku: product.sku, name: product.name, barcode: product.barcode, cost: product.cost,
        unit_cost: product.cost, stock: product.stock, line: product.line, counted: product.counted,
        counted_by: product.counted_by, quantity: 0, tally: 0,
      };
      rows.push(row);
    }
    if (fixed) row.now += count;
    else if (mode === "count") { row.tally += count; row.touched = true; row.changed = true; }
    else row.quantity += count;
    last = row;
    setDirty(true);
    if (message.className.indexOf("error") < 0) say(""); // an unknown code stays in view until Esc
    render();
  }

  function local(code) {
    var lower = code.toLowerCase();
    return rows.filter(function (row) {
      return row.barcode === code || String(row.sku).toLowerCase() === lower;
    })[0];
  }

  function showChoices(products, count) {
    choices.textContent = "";
    products.forEach(function (product) {
      var item = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.textContent = product.name + " · " + product.sku;
      button.addEventListener("click", function () { hideChoices(); apply(product, count); next(); });
      item.appendChild(button);
      choices.appendChild(item);
    });
    choices.hidden = false;
    waiting = true;
    say(strings.choose, "info");
    choices.querySelector("button").focus();
  }
  function hideChoices() {
    choices.hidden = true;
    choices.textContent = "";
    waiting = false;
    scan.focus();
  }

  function next() {
    if (busy || waiting) return;
    var item = queue.shift();
    pending.hidden = queue.length === 0;
    if (!item) {
      // Saved once the last code is in, unless one of them needs a look first.
      if (submitWhenDone) { submitWhenDone = false; if (message.hidden || message.className.indexOf("error") < 0) submit(); }
      return;
    }
    var count = 1, code = item;
    var multiplied = /^(\d{1,5})\*(.+)$/.exec(item);
    if (multiplied) { count = Math.max(1, parseInt(multiplied[1], 10)); code = multiplied[2]; }
    var found = local(code);
    if (found) { apply(found, count); next(); return; }
    if (fixed || !root.dataset.lookupUrl) { say(strings.not_on_list.replace("%s", code)); next(); return; }
    if (cache[code]) { answer(cache[code], code, count); return; }
    busy = true;
    pending.hidden = false;
    fetch(root.dataset.lookupUrl + "?q=" + encodeURIComponent(code), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (data) {
        if (data.exact) cache[code] = data;
        busy = false;
        answer(data, code, count);
      })
      .catch(function () { busy = false; say(strings.offline); next(); });
  }
  function answer(data, code, count) {
    if (data.exact || data.results.length === 1) { apply(data.results[0], count); next(); }
    else if (!data.results.length) { say(strings.not_found.replace("%s", code)); next(); }
    else showChoices(data.results, count);
  }

  function post(url, payload) {
    save.disabled = true;
    if (saveStatus) saveStatus.textContent = strings.saving;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify(payload),
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        save.disabled = false;
        if (!result.ok) {
          say(strings.failed.replace("%s", result.data.detail || ""));
          if (saveStatus) saveStatus.textContent = strings.unsaved;
          return null;
        }
        return result.data;
      })
      .catch(function () {
        save.disabled = false;
        say(strings.offline);
        if (saveStatus) saveStatus.textContent = strings.unsaved;
        return null;
      });
  }

  function submit() {
    if (waiting) { say(strings.choose, "info"); return; }
    if (busy || queue.length) { submitWhenDone = true; say(strings.working, "info"); return; }
    var url = root.dataset.saveUrl;
    var payload;
    if (mode === "order") {
      payload = { lines: rows.filter(function (r) { return r.quantity > 0; }).map(function (r) {
        return { product: r.id, quantity: r.quantity, unit_cost: r.unit_cost };
      }) };
    } else if (mode === "transfer") {
      payload = {
        to_store: document.getElementById("to-store").value,
        note: note ? note.value : "",
        lines: rows.filter(function (r) { return r.quantity > 0; }).map(function (r) { return { product: r.id, quantity: r.quantity }; }),
      };
    } else if (mode === "receive") {
      payload = { note: note ? note.value : "", lines: rows.filter(function (r) { return r.now > 0; }).map(function (r) {
        return { line: r.line, quantity: r.now };
      }) };
    } else if (mode === "arrive") {
      if (rows.some(function (r) { return r.now < r.sent; }) && !(note && note.value.trim())) {
        say(strings.short_note);
        note.focus();
        return;
      }
      payload = { note: note ? note.value : "", lines: rows.map(function (r) { return { line: r.line, quantity: r.now }; }) };
    } else {
      var changed = rows.filter(function (r) { return r.touched && r.changed; });
      if (!changed.length) { say(strings.empty, "info"); return; }
      payload = { counts: changed.map(function (r) { return { product: r.id, counted: r.tally }; }) };
    }
    post(url, payload).then(function (data) {
      if (!data) return;
      setDirty(false);
      if (data.url) { window.location.assign(data.url); return; }
      if (mode === "count") {
        data.lines.forEach(function (line) {
          var row = rows.filter(function (r) { return r.id === line.id; })[0];
          if (row) { row.counted = line.counted; row.counted_by = line.counted_by; row.changed = false; }
        });
        var bar = document.getElementById("progress");
        bar.value = data.progress.percent;
        document.getElementById("progress-text").textContent = data.progress.percent + " %";
        document.getElementById("progress-counted").textContent = String(data.progress.counted);
      }
      if (mode === "order") {
        var total = document.getElementById("order-total");
        if (total) total.textContent = data.total;
      }
      say(strings.saved, "ok");
      if (saveStatus) saveStatus.textContent = strings.saved;
      render();
    });
  }

  document.getElementById("scan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = scan.value.trim();
    scan.value = ""; // at once, so the scanner's next code starts in an empty field
    if (!text) return;
    queue.push(text);
    next();
  });
  scan.addEventListener("keydown", function (event) {
    if (scan.value !== "" || !last) return;
    if (event.key === "+" || event.key === "-") {
      event.preventDefault();
      var step = event.key === "+" ? 1 : -1;
      if (fixed) last.now = Math.max(0, last.now + step);
      else if (mode === "count") last.tally = Math.max(0, last.tally + step), last.changed = true;
      else last.quantity = Math.max(0, last.quantity + step);
      setDirty(true);
      render();
    } else if (event.key === "Delete" && !fixed) {
      event.preventDefault();
      drop(last);
    }
  });
  choices.addEventListener("keydown", function (event) {
    var buttons = Array.prototype.slice.call(choices.querySelectorAll("button"));
    var at = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at < buttons.length - 1) { event.preventDefault(); buttons[at + 1].focus(); }
    if (event.key === "ArrowUp" && at > 0) { event.preventDefault(); buttons[at - 1].focus(); }
  });
  save.addEventListener("click", function () { submit(); });
  var all = document.getElementById("all-arrived");
  if (all) all.addEventListener("click", function () {
    rows.forEach(function (row) { row.now = row.sent; });
    setDirty(true);
    render();
    scan.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "F2") { event.preventDefault(); submit(); }
    else if (event.key === "Escape") {
      event.preventDefault();
      if (waiting) { hideChoices(); next(); }
      scan.value = "";
      say("");
      scan.focus();
    }
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = strings.leave; }
  });
  var after = document.getElementById("after-save");
  if (after) after.form.addEventListener("submit", function (event) {
    if (dirty) { event.preventDefault(); say(strings.unsaved); }
  });
  render();
  setDirty(false);
})();
