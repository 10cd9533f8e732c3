// The register: a basket kept in the page, sent once as a sale. Keyboard first: a barcode
// scanner types the code and Enter. Money is handled in integer cents, tax as the server does
// (prices include tax; a line's tax is total × rate / (100 + rate), rounded half up).
(function () {
  "use strict";
  var root = document.getElementById("register");
  if (!root) return;
  var strings = JSON.parse(document.getElementById("pos-strings").textContent);
  var scan = document.getElementById("scan");
  var results = document.getElementById("results");
  var message = document.getElementById("message");
  var lines = document.getElementById("cart-lines");
  var empty = document.getElementById("empty");
  var cash = document.getElementById("cash");
  var cardRef = document.getElementById("card-ref");
  var payButtons = [document.getElementById("pay-cash"), document.getElementById("pay-card")];
  var cart = [];
  var busy = false;

  function cents(text) {
    var value = String(text || "").trim().replace(",", ".");
    if (!/^\d+(\.\d{0,2})?$/.test(value)) return null;
    var parts = value.split(".");
    return parseInt(parts[0], 10) * 100 + parseInt(((parts[1] || "") + "00").slice(0, 2), 10);
  }
  function money(value) {
    var sign = value < 0 ? "-" : "";
    value = Math.abs(value);
    return sign + Math.floor(value / 100) + "." + String(value % 100).padStart(2, "0");
  }
  function lineTax(total, rate) {
    if (!rate) return 0;
    var base = 10000 + rate;
    return Math.floor((2 * total * rate + base) / (2 * base));
  }
  function totals() {
    var total = 0, tax = 0;
    cart.forEach(function (line) {
      var lineTotal = line.price * line.quantity;
      total += lineTotal;
      tax += lineTax(lineTotal, line.rate);
    });
    return { total: total, tax: tax, net: total - tax };
  }

  function say(text) {
    message.textContent = text;
    message.hidden = !text;
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

  function render() {
    lines.textContent = "";
    cart.forEach(function (line, index) {
      var row = document.createElement("tr");
      var name = cell();
      name.appendChild(document.createTextNode(line.name));
      var sku = document.createElement("div");
      sku.className = "small muted";
      sku.textContent = line.sku + " · " + line.stock + " " + strings.in_stock;
      name.appendChild(sku);
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
        var wanted = parseInt(input.value, 10);
        if (wanted > 0 && wanted <= 9999) line.quantity = wanted;
        render();
      });
      quantity.appendChild(input);
      quantity.appendChild(button("+", "step", function () { change(index, 1); }));
      row.appendChild(quantity);
      row.appendChild(cell(money(line.price), "num"));
      row.appendChild(cell(money(line.price * line.quantity), "num"));
      var remove = cell();
      remove.appendChild(button("×", "remove", function () { cart.splice(index, 1); render(); }));
      remove.lastChild.setAttribute("aria-label", strings.remove);
      row.appendChild(remove);
      lines.appendChild(row);
    });
    empty.hidden = cart.length > 0;
    var sums = totals();
    document.getElementById("net").textContent = money(sums.net);
    document.getElementById("tax").textContent = money(sums.tax);
    document.getElementById("total").textContent = money(sums.total);
    var received = cents(cash.value);
    document.getElementById("change").textContent =
      received !== null && received >= sums.total ? money(received - sums.total) : "0.00";
  }

  function change(index, delta) {
    var line = cart[index];
    if (!line) return;
    line.quantity = Math.min(9999, line.quantity + delta);
    if (line.quantity <= 0) cart.splice(index, 1);
    render();
  }

  function add(product, quantity) {
    var found = cart.filter(function (line) { return line.id === product.id; })[0];
    if (found) {
      found.quantity = Math.min(9999, found.quantity + quantity);
      cart.splice(cart.indexOf(found), 1);
      cart.push(found); // the last line is the one + and - change
    } else {
      cart.push({
        id: product.id, sku: product.sku, name: product.name, stock: product.stock,
        price: cents(product.price), rate: cents(product.tax_rate), quantity: quantity,
      });
    }
    results.hidden = true;
    say("");
    render();
    scan.value = "";
    scan.focus();
  }

  function showChoices(products, quantity) {
    results.textContent = "";
    products.forEach(function (product) {
      var item = document.createElement("li");
      var choice = button(product.name + " · " + product.sku + " · " + product.price, "choice", function () {
        add(product, quantity);
      });
      item.appendChild(choice);
      results.appendChild(item);
    });
    results.hidden = false;
    say(strings.choose);
    results.querySelector("button").focus();
  }

  function lookup(text) {
    var quantity = 1;
    var multiplied = /^(\d{1,4})\*(.+)$/.exec(text);
    if (multiplied) {
      quantity = Math.max(1, parseInt(multiplied[1], 10));
      text = multiplied[2];
    }
    fetch(root.dataset.productsUrl + "?q=" + encodeURIComponent(text), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) {
        if (data.exact || data.results.length === 1) add(data.results[0], quantity);
        else if (!data.results.length) { say(strings.not_found.replace("%s", text)); scan.select(); }
        else showChoices(data.results, quantity);
      })
      .catch(function () { say(strings.offline); });
  }

  function pay(payment) {
    var sums = totals();
    if (busy) return;
    if (!cart.length) { say(strings.empty); scan.focus(); return; }
    if (payment.method === "cash") {
      var received = cash.value.trim() ? cents(cash.value) : sums.total;
      if (received === null || received < sums.total) { say(strings.short); cash.focus(); return; }
      payment.amount = money(received);
    } else {
      payment.amount = money(sums.total);
    }
    busy = true;
    payButtons.forEach(function (element) { element.disabled = true; });
    fetch(root.dataset.saleUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify({
        lines: cart.map(function (line) { return { product: line.id, quantity: line.quantity }; }),
        payments: [payment],
      }),
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (answer.ok) { window.location.assign(answer.data.receipt_url); return; }
        say(strings.failed.replace("%s", answer.data.detail || ""));
        busy = false;
        payButtons.forEach(function (element) { element.disabled = false; });
      })
      .catch(function () {
        say(strings.offline);
        busy = false;
        payButtons.forEach(function (element) { element.disabled = false; });
      });
  }

  document.getElementById("scan-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = scan.value.trim();
    if (text) lookup(text);
  });
  scan.addEventListener("keydown", function (event) {
    if (scan.value !== "") return;
    if (event.key === "+" || event.key === "-") {
      event.preventDefault();
      change(cart.length - 1, event.key === "+" ? 1 : -1);
    } else if (event.key === "Delete") {
      event.preventDefault();
      cart.pop();
      render();
    }
  });
  results.addEventListener("keydown", function (event) {
    var choices = Array.prototype.slice.call(results.querySelectorAll("button"));
    var at = choices.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && at < choices.length - 1) { event.preventDefault(); choices[at + 1].focus(); }
    if (event.key === "ArrowUp" && at > 0) { event.preventDefault(); choices[at - 1].focus(); }
  });
  cash.addEventListener("input", render);
  document.getElementById("cash-form").addEventListener("submit", function (event) {
    event.preventDefault();
    pay({ method: "cash" });
  });
  document.getElementById("card-form").addEventListener("submit", function (event) {
    event.preventDefault();
    pay({ method: "card", reference: cardRef.value.trim() });
  });
  document.getElementById("clear").addEventListener("click", function () {
    cart = [];
    cash.value = "";
    say("");
    render();
    scan.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "F4") { event.preventDefault(); cash.focus(); cash.select(); }
    else if (event.key === "F8") { event.preventDefault(); pay({ method: "card", reference: cardRef.value.trim() }); }
    else if (event.key === "Escape") { event.preventDefault(); results.hidden = true; say(""); scan.focus(); }
  });
  render();
})();
