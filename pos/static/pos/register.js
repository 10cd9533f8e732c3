// The register: a basket kept in the page (never on the device: no local or session storage),
// sent once as a sale with an Idempotency-Key made for the basket. Keyboard first.
//
// Scanning never loses a keystroke: Enter takes exactly what is in the field and empties it at
// once, so the next code can be typed while the lookup runs; lookups run at the same time but
// are applied in the order they were scanned (a queue), with a visible pending count. A scanner
// types a code in a burst (a few ms between characters) and Enter: a burst that lands outside
// the scan field (in the cash field, on a button) is taken back out and looked up as one code.
//
// Money is in integer cents and follows inventory/services/pricing.py: a line's list total, its
// discount (percent rounded per line, or an amount), the basket discount (a percent per line, or
// an amount split by the largest remainder), the tax per rate from that rate's gross. The
// server prices the sale again; this is what the cashier sees meanwhile.
(function () {
  "use strict";
  var root = document.getElementById("register");
  if (!root) return;
  var strings = JSON.parse(document.getElementById("pos-strings").textContent);
  var config = JSON.parse(document.getElementById("pos-config").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var scan = $("scan"), results = $("results"), message = $("message"), pending = $("pending");
  var lines = $("cart-lines"), empty = $("empty"), cash = $("cash");
  var BURST_GAP_MS = 25, BURST_MIN = 4;
  var OWN_SCANS = ["scan", "customer-q", "receipt-number"]; // fields that take a scanned code themselves
  var MAX_CASH = 100000000; // cents: what a drawer can take (a barcode in the cash field is not money)

  var cart = [];            // {id, sku, name, stock, price, rate, quantity, discount: {kind, value, reason}|null}
  var basketDiscount = null; // {kind: "percent"|"amount", value: "10.00", reason}
  var tenders = [];          // {method, amount (cents), reference}
  var customer = null;       // {id, number, name}
  var basketKey = null;      // the Idempotency-Key of this basket's sale
  var approval = null;       // {username, password, otp}: for the next sale request only
  var busy = false;
  var queue = [];            // lookups in scan order: {text, quantity, state, data}
  var paused = false;        // a choice or a confirmation is open: the queue waits for it
  var retry = null;          // what to do again once signed in
  var deadline = Date.now() + (config.expires_in || 900) * 1000;
  var warned = false, ended = false;

  // --- money ----------------------------------------------------------------------------------
  function cents(text) {
    var value = String(text == null ? "" : text).trim().replace(",", ".");
    if (!/^\d+(\.\d{0,2})?$/.test(value)) return null;
    var parts = value.split(".");
    return parseInt(parts[0], 10) * 100 + parseInt(((parts[1] || "") + "00").slice(0, 2), 10);
  }
  function money(value) {
    var sign = value < 0 ? "-" : "";
    value = Math.abs(value);
    return sign + Math.floor(value / 100) + "." + String(value % 100).padStart(2, "0");
  }
  function halfUp(numerator, denominator) { return Math.floor((2 * numerator + denominator) / (2 * denominator)); }
  function tax(gross, rate) { return rate ? halfUp(gross * rate, 10000 + rate) : 0; }
  function allocate(total, weights) {
    var whole = weights.reduce(function (a, b) { return a + b; }, 0);
    if (!whole) return weights.map(function (_, i) { return i === 0 ? total : 0; });
    var raw = weights.map(function (w) { return total * w / whole; });
    var parts = raw.map(Math.floor);
    var left = total - parts.reduce(function (a, b) { return a + b; }, 0);
    var order = raw.map(function (_, i) { return i; }).sort(function (a, b) {
      return (raw[b] - parts[b]) - (raw[a] - parts[a]) || a - b;
    });
    for (var i = 0; i < left; i++) parts[order[i]] += 1;
    return parts;
  }
  function priced() {
    var out = cart.map(function (line) {
      var list = line.price * line.quantity, own = 0, share = 0;
      if (line.discount) {
        if (line.discount.kind === "percent") {
          var p = cents(line.discount.value);
          own = halfUp(list * p, 10000);
          share = p / 10000;
        } else {
          own = Math.min(cents(line.discount.value), list);
          share = list ? own / list : 0;
        }
      }
      return { line: line, list: list, own: own, basket: 0, total: list - own, share: share };
    });
    var basketShare = 0;
    if (basketDiscount) {
      var after = out.map(function (o) { return o.total; });
      var sum = after.reduce(function (a, b) { return a + b; }, 0);
      if (basketDiscount.kind === "percent") {
        var bp = cents(basketDiscount.value);
        out.forEach(function (o) { o.basket = halfUp(o.total * bp, 10000); });
        basketShare = bp / 10000;
      } else {
        var amount = Math.min(cents(basketDiscount.value), sum);
        allocate(amount, after).forEach(function (part, i) { out[i].basket = part; });
        basketShare = sum ? amount / sum : 0;
      }
    }
    var rates = {}, total = 0, discounts = 0, maxShare = 0;
    out.forEach(function (o) {
      o.total = o.list - o.own - o.basket;
      total += o.total;
      discounts += o.own + o.basket;
      if (o.list) maxShare = Math.max(maxShare, 1 - (1 - o.share) * (1 - basketShare));
      rates[o.line.rate] = (rates[o.line.rate] || 0) + o.total;
    });
    var taxes = Object.keys(rates).map(Number).sort(function (a, b) { return a - b; }).map(function (rate) {
      var t = tax(rates[rate], rate);
      return { rate: rate, gross: rates[rate], tax: t, net: rates[rate] - t };
    });
    var taxTotal = taxes.reduce(function (a, t) { return a + t.tax; }, 0);
    return { lines: out, total: total, tax: taxTotal, net: total - taxTotal, discounts: discounts,
      taxes: taxes, maxPercent: maxShare * 100 };
  }
  function paid() { return tenders.reduce(function (a, t) { return a + t.amount; }, 0); }

  // --- the page -------------------------------------------------------------------------------
  function say(text) { message.textContent = text; message.hidden = !text; }
  function format(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }
  function button(label, className, handler) {
    var element = document.createElement("button");
    element.type = "button";
    element.className = "small " + (className || "");
    element.textContent = label;
    element.addEventListener("click", handler);
    return element;
  }
  function cell(text, className) {
    var element = document.createElement("td");
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }
  function showPending() {
    var waiting = queue.length;
    pending.hidden = !waiting;
    pending.textContent = waiting ? strings.pending.replace("%s", String(waiting)) : "";
    root.setAttribute("aria-busy", waiting ? "true" : "false");
    scan.classList.toggle("working", !!waiting);
  }
  function hideList(list) {
    list.hidden = true;
    list.textContent = ""; // its buttons leave the tab order with it
  }

  function render() {
    var sums = priced();
    lines.textContent = "";
    sums.lines.forEach(function (o, index) {
      var line = o.line;
      var row = document.createElement("tr");
      row.className = "cart-line";
      var name = cell();
      name.appendChild(document.createTextNode(line.name));
      var sku = document.createElement("div");
      var short = line.stock < line.quantity;
      sku.className = "small " + (short ? "stock-low" : "muted");
      sku.textContent = line.sku + " · " + money(line.price) + " · " + line.stock + " " + strings.in_stock;
      name.appendChild(sku);
      if (line.discount && line.discount.reason) {
        var why = document.createElement("div");
        why.className = "small muted";
        why.textContent = line.discount.reason;
        name.appendChild(why);
      }
      row.appendChild(name);
      var quantity = cell(undefined, "num qty");
      quantity.appendChild(button("−", "step", function () { change(index, -1); }));
      var input = document.createElement("input");
      input.type = "number";
      input.min = "1";
      input.max = "9999";
      input.value = line.quantity;
      input.className = "qty-input";
      input.setAttribute("aria-label", line.name);
      input.addEventListener("change", function () {
        var value = parseInt(input.value, 10);
        if (value > 0 && value <= 9999) setQuantity(index, value);
        else render();
      });
      quantity.appendChild(input);
      quantity.appendChild(button("+", "step", function () { change(index, 1); }));
      row.appendChild(quantity);
      var totalCell = cell(undefined, "num line-total");
      totalCell.appendChild(document.createTextNode(money(o.total)));
      if (o.own + o.basket) {
        var off = document.createElement("div");
        off.className = "small discount";
        off.textContent = "−" + money(o.own + o.basket);
        totalCell.appendChild(off);
      }
      row.appendChild(totalCell);
      var actions = cell(undefined, "actions");
      var d = button("%", "line-discount", function () { discountAsk(index); });
      d.setAttribute("aria-label", strings.line_discount.replace("%s", line.name));
      actions.appendChild(d);
      var remove = button("✕", "remove", function () { cart.splice(index, 1); changed(); });
      remove.setAttribute("aria-label", strings.remove + " " + line.name);
      actions.appendChild(remove);
      row.appendChild(actions);
      lines.appendChild(row);
    });
    empty.hidden = cart.length > 0;
    $("discounts").textContent = sums.discounts ? "−" + money(sums.discounts) : "0.00";
    $("net").textContent = money(sums.net);
    $("tax").textContent = money(sums.tax);
    $("total").textContent = money(sums.total);
    var rates = $("tax-rates");
    rates.textContent = "";
    sums.taxes.forEach(function (t) {
      var item = document.createElement("div");
      item.textContent = money(t.rate) + " %: " + money(t.net) + " + " + money(t.tax) + " = " + money(t.gross);
      rates.appendChild(item);
    });
    var bd = $("basket-discount-line");
    bd.hidden = !basketDiscount;
    bd.textContent = basketDiscount ? strings.basket_discount + ": " + basketDiscount.value +
      (basketDiscount.kind === "percent" ? " %" : "") + " · " + basketDiscount.reason : "";
    renderTenders(sums);
  }

  function renderTenders(sums) {
    var list = $("tenders");
    list.textContent = "";
    tenders.forEach(function (tender, index) {
      var item = document.createElement("li");
      item.textContent = strings[tender.method] + " " + money(tender.amount) +
        (tender.reference ? " (" + tender.reference + ")" : "");
      item.appendChild(button(strings.remove, "link", function () { tenders.splice(index, 1); render(); }));
      list.appendChild(item);
    });
    var due = Math.max(0, sums.total - paid());
    $("due").textContent = money(due);
    var received = cash.value.trim() ? cents(cash.value) : null;
    $("change").textContent = money(received !== null && received > due ? received - due : 0);
    var quick = $("quick-cash");
    quick.textContent = "";
    if (due > 0) {
      var amounts = [due];
      [500, 1000, 2000, 5000, 10000].forEach(function (step) {
        var next = Math.ceil(due / step) * step;
        if (next > due && amounts.indexOf(next) < 0 && amounts.length < 5) amounts.push(next);
      });
      amounts.forEach(function (amount, i) {
        var b = button(money(amount), "quick", function () { tenderAdd("cash", amount, ""); });
        b.id = i === 0 ? "quick-exact" : "quick-" + amount;
        quick.appendChild(b);
      });
    }
  }

  function changed() {
    if (!cart.length) { basketKey = null; tenders = []; basketDiscount = null; }
    else if (!basketKey) basketKey = newKey();
    render();
  }
  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function change(index, delta) {
    var line = cart[index];
    if (!line) return;
    setQuantity(index, line.quantity + delta);
  }
  function setQuantity(index, quantity) {
    var line = cart[index];
    if (quantity <= 0) { cart.splice(index, 1); changed(); return; }
    stockCheck(line, Math.min(9999, quantity), function (ok) {
      if (ok) line.quantity = Math.min(9999, quantity);
      changed();
    });
  }

  // --- dialogs --------------------------------------------------------------------------------
  function dialogOpen() { return !!document.querySelector("dialog[open]"); }
  // Focus back in the scan field, ready for the next code. Blurred first: after a dialog closed
  // by a click or a tap, Chromium keeps the field focused but not editable until it is focused anew.
  function backToScanning() {
    if (dialogOpen()) return;
    if (document.activeElement === scan) scan.blur();
    scan.focus();
  }
  // A dialog's answer is taken when its form is submitted (or it is cancelled), and the dialog is
  // closed right then: the next key (F8 after a voucher) never races the answer of the last one.
  function ask(dialog, onClose) {
    var form = dialog.querySelector("form");
    function submitted(event) {
      event.preventDefault();
      finish(event.submitter ? event.submitter.value : "");
    }
    function cancelled(event) {
      event.preventDefault();
      finish("cancel");
    }
    function finish(value) {
      form.removeEventListener("submit", submitted);
      dialog.removeEventListener("cancel", cancelled);
      dialog.close(value);
      onClose(value);
      backToScanning();
    }
    form.addEventListener("submit", submitted);
    dialog.addEventListener("cancel", cancelled);
    dialog.showModal();
  }

  function stockCheck(line, quantity, done) {
    if (quantity <= line.stock) { done(true); return; }
    var values = { stock: line.stock, name: line.name, quantity: quantity };
    if (!config.negative_stock) { say(format(strings.stock_refused, values)); done(false); return; }
    $("stock-text").textContent = format(strings.stock_warning, values);
    paused = true;
    ask($("stock-dialog"), function (value) { paused = false; done(value === "sell"); drain(); });
  }

  function discountAsk(index) {
    var target = index === null ? basketDiscount : cart[index].discount;
    $("discount-title").textContent = index === null ? strings.basket_discount
      : strings.line_discount.replace("%s", cart[index].name);
    $("discount-value").value = target ? target.value : "";
    $("discount-reason").value = target ? target.reason : "";
    $("discount-percent").checked = !target || target.kind === "percent";
    $("discount-amount").checked = !!target && target.kind === "amount";
    $("discount-error").hidden = true;
    ask($("discount-dialog"), function (value) {
      if (value === "remove") {
        if (index === null) basketDiscount = null; else cart[index].discount = null;
        render();
      } else if (value === "apply") {
        var chosen = discountRead(index);
        if (chosen === null) { discountAsk(index); return; }
        if (index === null) basketDiscount = chosen; else cart[index].discount = chosen;
        render();
      }
    });
  }
  function discountRead(index) {
    var kind = $("discount-amount").checked ? "amount" : "percent";
    var value = $("discount-value").value.trim().replace(",", ".");
    var reason = $("discount-reason").value.trim();
    var amount = cents(value);
    var base = index === null ? priced().lines.reduce(function (a, o) { return a + o.list - o.own; }, 0)
      : cart[index].price * cart[index].quantity;
    var bad = amount === null || amount <= 0 || (kind === "percent" ? amount > 10000 : amount > base);
    if (bad || !reason) {
      $("discount-error").textContent = bad ? strings.discount_invalid : strings.discount_reason;
      $("discount-error").hidden = false;
      return null;
    }
    return { kind: kind, value: money(amount), reason: reason };
  }

  function approvalAsk(text, done) {
    $("approval-text").textContent = text;
    $("approval-username").value = "";
    $("approval-password").value = "";
    $("approval-otp").value = "";
    ask($("approval-dialog"), function (value) {
      var given = value === "approve" ? {
        username: $("approval-username").value.trim(),
        password: $("approval-password").value,
        otp: $("approval-otp").value.trim(),
      } : null;
      $("approval-password").value = ""; // never kept in the page longer than the request
      done(given);
    });
    $("approval-username").focus();
  }

  // --- the server -----------------------------------------------------------------------------
  function SessionEnded() { this.sessionEnded = true; }
  function call(url, options) {
    options = options || {};
    var headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (options.method === "POST") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = root.dataset.csrf;
    }
    return fetch(url, { method: options.method || "GET", credentials: "same-origin", headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body) })
      .then(function (response) {
        var left = response.headers.get("Kassa-Session-Expires-In");
        if (left !== null) sessionLeft(parseInt(left, 10));
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.status === 401 && !options.signin) { sessionEnd(); throw new SessionEnded(); }
          return { ok: response.ok, status: response.status, data: data };
        });
      });
  }

  // --- scanning -------------------------------------------------------------------------------
  function enqueue(raw) {
    var text = raw.trim();
    if (!text) return;
    var quantity = 1;
    var multiplied = /^(\d{1,4})\*(.+)$/.exec(text);
    if (multiplied) {
      quantity = Math.max(1, parseInt(multiplied[1], 10));
      text = multiplied[2].trim();
    }
    var entry = { text: text, quantity: quantity, state: "pending", data: null };
    queue.push(entry);
    showPending();
    fetchEntry(entry);
  }
  function fetchEntry(entry) {
    entry.state = "pending";
    call(root.dataset.productsUrl + "?q=" + encodeURIComponent(entry.text))
      .then(function (answer) {
        if (!answer.ok) throw new Error(String(answer.status));
        entry.data = answer.data;
        entry.state = "done";
      })
      .catch(function (error) { entry.state = error && error.sessionEnded ? "session" : "failed"; })
      .then(drain);
  }
  function drain() {
    while (queue.length && !paused) {
      var head = queue[0];
      if (head.state === "pending") break;
      if (head.state === "session") { // looked up again once signed in
        retry = retryLookups;
        break;
      }
      queue.shift();
      apply(head);
    }
    showPending();
  }
  function retryLookups() {
    queue.forEach(function (entry) { if (entry.state !== "done") fetchEntry(entry); });
  }
  function apply(entry) {
    if (entry.state === "failed") { say(strings.lookup_offline.replace("%s", entry.text)); return; }
    var data = entry.data;
    if (data.exact || data.results.length === 1) add(data.results[0], entry.quantity);
    else if (!data.results.length) say(strings.not_found.replace("%s", entry.text));
    else showChoices(data.results, entry.quantity);
  }

  function add(product, quantity) {
    var found = cart.filter(function (line) { return line.id === product.id; })[0];
    var line = found || {
      id: product.id, sku: product.sku, name: product.name, stock: product.stock,
      price: cents(product.price), rate: cents(product.tax_rate), quantity: 0, discount: null,
    };
    line.stock = product.stock;
    var wanted = Math.min(9999, line.quantity + quantity);
    stockCheck(line, wanted, function (ok) {
      if (!ok) { render(); return; }
      line.quantity = wanted;
      if (found) cart.splice(cart.indexOf(found), 1);
      cart.push(line); // the last line is the one + and - change
      say("");
      changed();
    });
  }

  function showChoices(products, quantity) {
    results.textContent = "";
    products.forEach(function (product) {
      var item = document.createElement("li");
      var label = product.name + " · " + product.sku + " · " + product.price +
        (product.out_of_stock ? " · " + strings.out_of_stock : "");
      var choice = button(label, "choice" + (product.out_of_stock ? " out" : ""), function () {
        hideList(results);
        paused = false;
        say("");
        add(product, quantity);
        backToScanning();
        drain();
      });
      item.appendChild(choice);
      results.appendChild(item);
    });
    results.hidden = false;
    paused = true;
    say(strings.choose);
    results.querySelector("button").focus();
  }

  function escape() {
    scan.value = "";
    hideList(results);
    if (paused && !dialogOpen()) { paused = false; drain(); }
    say("");
    backToScanning();
  }

  // --- paying ---------------------------------------------------------------------------------
  function tenderAdd(method, amount, reference) {
    var sums = priced();
    if (busy) return;
    if (!cart.length) { say(strings.empty); backToScanning(); return; }
    var due = sums.total - paid();
    if (method !== "cash" && amount > due) { say(strings.tender_too_much.replace("%s", money(due))); return; }
    if (amount <= 0) return;
    tenders.push({ method: method, amount: amount, reference: reference || "" });
    cash.value = "";
    say("");
    render();
    if (paid() >= sums.total) complete();
  }
  function tenderAsk(method) {
    var sums = priced();
    if (!cart.length) { say(strings.empty); backToScanning(); return; }
    var due = Math.max(0, sums.total - paid());
    $("tender-title").textContent = strings[method];
    $("tender-text").textContent = (method === "card" ? strings.card_confirm : strings.voucher_confirm)
      .replace("%s", money(due));
    $("tender-amount").value = money(due);
    $("tender-reference").value = "";
    $("tender-reference").required = method === "voucher";
    $("tender-error").hidden = true;
    ask($("tender-dialog"), function (value) {
      if (value !== "confirm") return;
      var amount = cents($("tender-amount").value);
      if (amount === null || amount <= 0 || amount > due) {
        say(strings.tender_too_much.replace("%s", money(due)));
        return;
      }
      tenderAdd(method, amount, $("tender-reference").value.trim());
    });
    $("tender-confirm").focus();
  }
  function payCash() {
    var sums = priced();
    if (!cart.length) { say(strings.empty); backToScanning(); return; }
    var due = sums.total - paid();
    var received = cash.value.trim() ? cents(cash.value) : due;
    if (received === null || received <= 0 || received > MAX_CASH) { say(strings.short); cash.select(); return; }
    tenderAdd("cash", received, "");
  }

  function discountJson(discount) {
    if (!discount) return undefined;
    var body = { reason: discount.reason };
    body[discount.kind] = discount.value;
    return body;
  }
  function complete() {
    var sums = priced();
    var ceiling = config.ceiling === "" ? -1 : parseFloat(config.ceiling);
    if (sums.discounts && sums.maxPercent > ceiling + 1e-9 && !approval) {
      approvalAsk(strings.approval_needed.replace("%s", sums.maxPercent.toFixed(2)), function (given) {
        if (!given) { tenders = []; render(); return; }
        approval = given;
        complete();
      });
      return;
    }
    send();
  }
  function send() {
    var body = {
      lines: cart.map(function (line) {
        var item = { product: line.id, quantity: line.quantity };
        if (line.discount) item.discount = discountJson(line.discount);
        return item;
      }),
      payments: tenders.map(function (t) { return { method: t.method, amount: money(t.amount), reference: t.reference }; }),
      register: config.register || "",
    };
    if (basketDiscount) body.discount = discountJson(basketDiscount);
    if (customer) body.customer = customer.id;
    if (approval) body.approved_by = approval;
    busy = true;
    setButtons(true);
    call(root.dataset.saleUrl, { method: "POST", body: body, headers: { "Idempotency-Key": basketKey } })
      .then(function (answer) {
        approval = null;
        if (answer.ok) { window.location.assign(answer.data.receipt_url + "?new=1"); return; }
        busy = false;
        setButtons(false);
        if (answer.data.code === "discount_above_limit") {
          approvalAsk(strings.approval_refused.replace("%s", answer.data.detail || ""), function (given) {
            if (!given) { tenders = []; render(); return; }
            approval = given;
            send();
          });
          return;
        }
        tenders = [];
        render();
        say(strings.failed.replace("%s", answer.data.detail || ""));
      })
      .catch(function (error) {
        busy = false;
        setButtons(false);
        if (error && error.sessionEnded) { retry = send; return; } // sent again after signing in
        approval = null;
        say(strings.offline);
      });
  }
  function setButtons(disabled) {
    ["pay-cash", "pay-card", "pay-voucher"].forEach(function (id) { $(id).disabled = disabled; });
  }

  // --- the customer ---------------------------------------------------------------------------
  var customerForm = $("customer-form");
  if (customerForm) {
    customerForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = $("customer-q").value.trim();
      if (!text) return;
      call(root.dataset.customersUrl + "?q=" + encodeURIComponent(text)).then(function (answer) {
        var found = answer.ok ? answer.data.results : [];
        var list = $("customer-results");
        hideList(list);
        if (!found.length) { say(strings.customer_none); return; }
        if (found.length === 1) { customerSet(found[0]); return; }
        found.forEach(function (c) {
          var item = document.createElement("li");
          item.appendChild(button(c.number + " · " + c.name, "choice", function () { hideList(list); customerSet(c); }));
          list.appendChild(item);
        });
        list.hidden = false;
        list.querySelector("button").focus();
      }).catch(function () {});
    });
    $("customer-remove").addEventListener("click", function () { customerSet(null); });
  }
  function customerSet(found) {
    customer = found;
    $("customer").hidden = !found;
    $("customer-name").textContent = found ? strings.customer_attached.replace("%s", found.number) +
      (found.name ? " · " + found.name : "") : "";
    $("customer-q").value = "";
    say("");
    backToScanning();
  }

  // --- the session ----------------------------------------------------------------------------
  function sessionLeft(seconds) {
    if (isNaN(seconds)) return;
    deadline = Date.now() + seconds * 1000;
    if (seconds > 60) { warned = false; $("session-warning").hidden = true; }
  }
  function sessionTick() {
    if (ended) return;
    var left = Math.round((deadline - Date.now()) / 1000);
    if (left <= 0) { sessionEnd(); return; } // the server ended it too; its next answer says so
    if (left <= 60) {
      warned = true;
      $("session-warning").hidden = false;
      $("session-warning-text").textContent = strings.session_warning.replace("%s", String(left));
    }
  }
  function sessionExtend() {
    call(root.dataset.sessionUrl, { method: "POST", body: {} }).then(function (answer) {
      if (answer.ok) sessionLeft(answer.data.expires_in);
    }).catch(function () {});
  }
  function sessionEnd() {
    if (ended) return;
    ended = true;
    $("session-warning").hidden = true;
    $("signin-username").value = config.username;
    $("signin-password").value = "";
    $("signin-error").hidden = true;
    document.querySelectorAll("dialog[open]").forEach(function (d) {
      if (d.id === "signin-dialog") return;
      d.dispatchEvent(new Event("cancel", { cancelable: true })); // its question is answered "cancel"
      if (d.open) d.close();
    });
    $("signin-dialog").showModal();
    $("signin-password").focus();
  }
  $("signin-dialog").addEventListener("cancel", function (event) { event.preventDefault(); });
  $("signin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var username = $("signin-username").value.trim();
    var body = { username: username, password: $("signin-password").value, otp: $("signin-otp").value.trim() };
    var attempt = function (again) {
      call(root.dataset.signinUrl, { method: "POST", body: body, signin: true }).then(function (answer) {
        if (answer.status === 401 && answer.data.code === "session_expired" && again) { attempt(false); return; }
        if (answer.status === 401 && answer.data.code === "otp_required") {
          $("signin-otp-row").hidden = false;
          $("signin-otp").focus();
          return;
        }
        if (!answer.ok) {
          $("signin-error").textContent = strings.signin_failed.replace("%s", answer.data.detail || "");
          $("signin-error").hidden = false;
          return;
        }
        $("signin-password").value = "";
        $("signin-otp").value = "";
        root.dataset.csrf = answer.data.csrf;
        ended = false;
        sessionLeft(answer.data.expires_in);
        $("signin-dialog").close();
        backToScanning();
        if (answer.data.username.toLowerCase() !== config.username.toLowerCase()) {
          // The basket was someone else's: it does not follow another cashier.
          config.username = answer.data.username;
          cart = []; tenders = []; basketDiscount = null; customer = null; retry = null; queue = [];
          changed();
          say(strings.other_user);
          return;
        }
        var again2 = retry;
        retry = null;
        if (again2) again2();
        drain();
      }).catch(function () {
        $("signin-error").textContent = strings.offline;
        $("signin-error").hidden = false;
      });
    };
    attempt(true);
  });
  $("session-extend").addEventListener("click", sessionExtend);
  window.setInterval(sessionTick, 1000);

  // --- keys -----------------------------------------------------------------------------------
  $("scan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = scan.value;
    scan.value = scan.value.slice(text.length); // only what was looked up: never the next code
    enqueue(text);
  });
  scan.addEventListener("keydown", function (event) {
    if (scan.value !== "") return;
    if (event.key === "+" || event.key === "-") {
      event.preventDefault();
      change(cart.length - 1, event.key === "+" ? 1 : -1);
    } else if (event.key === "Delete") {
      event.preventDefault();
      cart.pop();
      changed();
    }
  });
  results.addEventListener("keydown", function (event) {
    var choices = Array.prototype.slice.call(results.querySelectorAll("button"));
    var at = choices.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at < choices.length - 1) { event.preventDefault(); choices[at + 1].focus(); }
    if (event.key === "ArrowUp" && at > 0) { event.preventDefault(); choices[at - 1].focus(); }
  });
  // A scanner's burst typed anywhere but the scan field: taken back out, looked up as one code.
  // A run is printable keys into one element with no pause over RUN_PAUSE_MS; at Enter it is a
  // scan when it has BURST_MIN keys whose typical (median) gap is at most BURST_GAP_MS. Times are
  // the events' own (when the key came in), so a busy page does not split a scanner's burst.
  var RUN_PAUSE_MS = 100;
  var run = null;
  document.addEventListener("keydown", function (event) {
    var at = event.timeStamp || performance.now();
    if (dialogOpen()) { run = null; return; }
    if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
      var target = event.target;
      if (!run || at - run.times[run.times.length - 1] > RUN_PAUSE_MS || target !== run.target) {
        run = { chars: "", times: [], target: target, before: "value" in target ? target.value : null };
      }
      run.chars += event.key;
      run.times.push(at);
      return;
    }
    if (event.key !== "Enter") return;
    var ended = run;
    run = null;
    if (!ended || OWN_SCANS.indexOf(ended.target.id) >= 0 || ended.chars.length < BURST_MIN) return;
    if (at - ended.times[ended.times.length - 1] > RUN_PAUSE_MS) return;
    var gaps = ended.times.slice(1).map(function (t, i) { return t - ended.times[i]; }).sort(function (a, b) { return a - b; });
    if (gaps[Math.floor(gaps.length / 2)] > BURST_GAP_MS) return; // typed by a person
    event.preventDefault();
    event.stopPropagation();
    if (ended.before !== null) ended.target.value = ended.before;
    enqueue(ended.chars);
    backToScanning();
  }, true);
  cash.addEventListener("input", function () { render(); });
  $("cash-form").addEventListener("submit", function (event) { event.preventDefault(); payCash(); });
  $("pay-card").addEventListener("click", function () { tenderAsk("card"); });
  $("pay-voucher").addEventListener("click", function () { tenderAsk("voucher"); });
  var basketButton = $("basket-discount");
  if (basketButton) basketButton.addEventListener("click", function () { if (cart.length) discountAsk(null); });
  $("clear").addEventListener("click", function () {
    cart = [];
    cash.value = "";
    customerSet(null);
    say("");
    changed();
    backToScanning();
  });
  document.addEventListener("keydown", function (event) {
    if (dialogOpen()) return;
    if (event.key === "F4") { event.preventDefault(); cash.focus(); cash.select(); }
    else if (event.key === "F8") { event.preventDefault(); tenderAsk("card"); }
    else if (event.key === "F6") { event.preventDefault(); if (basketButton && cart.length) discountAsk(null); }
    else if (event.key === "F2") { event.preventDefault(); sessionExtend(); }
    else if (event.key === "Escape") { event.preventDefault(); escape(); }
  });
  render();
  // Ready to scan now, not when the browser gets round to the field's autofocus (a later frame
  // on a busy machine): a code scanned as the page appears lands in the field, whole.
  backToScanning();
})();
