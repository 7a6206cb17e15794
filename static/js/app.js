// Canopy's small progressive enhancements. Every page works without them.
(function () {
  "use strict";

  // Close an open menu (<details class="menu">) on a click elsewhere or Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  // Escape closes the open menus; a menu it closed marks the key as used
  // (defaultPrevented), so the phone's side menu around it stays open.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      event.preventDefault();
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
  // A menu opened near the bottom of a phone's screen scrolls into view.
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (!menu.matches || !menu.matches("details.menu[open]")) return;
    var panel = menu.querySelector(".menu-panel");
    if (panel) panel.scrollIntoView({ block: "nearest" });
  }, true);

  // At phone width the side menu folds behind its Menu button (app.css hides
  // the menu while aria-expanded is "false"). Escape folds it again.
  var menuButton = document.querySelector(".menu-toggle[aria-controls]");
  if (menuButton) {
    menuButton.addEventListener("click", function () {
      var open = menuButton.getAttribute("aria-expanded") !== "true";
      menuButton.setAttribute("aria-expanded", open ? "true" : "false");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || event.defaultPrevented || menuButton.getAttribute("aria-expanded") !== "true") return;
      menuButton.setAttribute("aria-expanded", "false");
      menuButton.focus();
    });
  }

  // Prevent double submission: a form that is on its way disables its buttons.
  // A form that only closes a dialog (method="dialog", or a button with
  // formmethod="dialog") sends nothing, so it is never "on its way": guarding
  // it would leave the dialog's buttons dead the next time it opens.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    if (form.method === "dialog" || (submitter && submitter.formMethod === "dialog")) return;
    if (form.dataset.submitting) {
      event.preventDefault();
      return;
    }
    form.dataset.submitting = "1";
    form.querySelectorAll("button[type=submit]").forEach(function (b) {
      b.setAttribute("aria-disabled", "true");
      b.classList.add("is-busy");
    });
  });
})();

// The theme choice of the Account menu (layouts.ThemeChoice), remembered for
// a year in a cookie that the server reads to put data-theme on <html>
// before the first paint. The cookie is set on the base domain, so that
// every company's address (each its own origin) shares it. Browsers refuse
// that for a base domain of one label (localhost): then the address in use
// remembers the choice alone. A change applies at once; "system" forgets
// the choice and follows the system again.
(function () {
  "use strict";
  var choice = document.querySelector(".theme-choice");
  if (!choice) return;
  var name = choice.dataset.cookie;
  function write(value, domain) {
    document.cookie = name + "=" + value + "; Path=/; SameSite=Lax" +
      (domain ? "; Domain=" + domain : "") +
      (value ? "; Max-Age=31536000" : "; Max-Age=0") +
      (location.protocol === "https:" ? "; Secure" : "");
  }
  function saved(value) {
    return document.cookie.split(/;\s*/).indexOf(name + "=" + value) !== -1;
  }
  choice.addEventListener("change", function (event) {
    var theme = event.target.value === "light" || event.target.value === "dark" ? event.target.value : "";
    write("", ""); // this address's own, if the base domain's was refused before
    write(theme, choice.dataset.cookieDomain);
    if (theme && !saved(theme)) write(theme, "");
    var root = document.documentElement;
    if (theme) root.setAttribute("data-theme", theme); else root.removeAttribute("data-theme");
    var meta = document.querySelector('meta[name="color-scheme"]');
    if (meta) meta.setAttribute("content", theme || "light dark");
  });
})();

// Confirmation before destructive actions: a form with data-confirm opens the
// shared dialog; only "Confirm" submits it.
(function () {
  "use strict";
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") return;
  var pending = null;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.dataset.confirm || form.dataset.confirmed) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    pending = form;
    document.getElementById("confirm-message").textContent = form.dataset.confirm;
    var label = form.dataset.confirmLabel || form.querySelector("button[type=submit]").textContent.trim();
    document.getElementById("confirm-ok").textContent = label;
    // "Cancel" beside "Cancel order" would be ambiguous: such a form names
    // the way out itself.
    dialog.querySelector('button[value="cancel"]').textContent = form.dataset.dismissLabel || "Cancel";
    dialog.showModal();
  }, true);
  // The answer is read from the button that closes the dialog, as it is
  // pressed. The dialog's "close" event would be too late: it is queued,
  // and on a busy machine the close of a cancelled question could arrive
  // after the next question opened, and forget the form that one asked for.
  dialog.querySelector("form").addEventListener("submit", function (event) {
    var form = pending;
    pending = null;
    if (!form || !event.submitter || event.submitter.value !== "confirm") return;
    form.dataset.confirmed = "1";
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  });
})();

// Live filter: an input with data-filter="#list" hides the list's items
// (elements with data-filter-text) that do not contain what is typed.
(function () {
  "use strict";
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var list = document.querySelector(input.dataset.filter);
    if (!list) return;
    var empty = list.querySelector("[data-filter-empty]");
    if (input.dataset.remote) {
      remoteFilter(input, list, empty);
      return;
    }
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0;
      list.querySelectorAll("[data-filter-text]").forEach(function (item) {
        var match = item.dataset.filterText.toLowerCase().indexOf(q) !== -1;
        item.hidden = !match;
        if (match) shown++;
      });
      if (empty) empty.hidden = shown !== 0;
    });
  });

  // A list holding only some of the items (the toggle of someone in many
  // companies) is searched on the server instead: data-remote is a page
  // listing all of them, whose matching items replace the list's.
  function remoteFilter(input, list, empty) {
    var first = Array.prototype.slice.call(list.querySelectorAll("[data-filter-text]"));
    var timer;
    var latest = 0;
    function show(items) {
      list.querySelectorAll("[data-filter-text]").forEach(function (item) { item.remove(); });
      items.forEach(function (item) { list.insertBefore(item, empty); });
      if (empty) empty.hidden = items.length !== 0;
    }
    function search() {
      var q = input.value.trim();
      var ticket = ++latest;
      if (q === "") {
        show(first);
        return;
      }
      var url = new URL(input.dataset.remote, window.location.href);
      url.searchParams.set("q", q);
      fetch(url, { credentials: "same-origin" })
        .then(function (res) {
          if (!res.ok) throw new Error("search failed: " + res.status);
          return res.text();
        })
        .then(function (html) {
          if (ticket !== latest) return; // a later search is under way
          var page = new DOMParser().parseFromString(html, "text/html");
          // Only each row's link: the page's rows also carry their own
          // actions (Leave), which the toggle does not offer.
          show(Array.prototype.map.call(page.querySelectorAll("#company-results > li"), function (row) {
            var item = document.createElement("li");
            item.dataset.filterText = row.dataset.filterText || "";
            item.appendChild(document.importNode(row.querySelector(".toggle-item"), true));
            return item;
          }));
        })
        .catch(function () { /* the list stays as it was */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
  }
})();

// A dialog the server rendered open (e.g. "verify the details") becomes modal.
(function () {
  "use strict";
  document.querySelectorAll("dialog.dialog-auto-modal[open]").forEach(function (d) {
    if (typeof d.showModal !== "function") return;
    d.close();
    d.showModal();
    if (d.dataset.formUrl) backClosesDialog(d);
  });

  // The confirmation is shown over the filled form. In the browser's
  // history it becomes a step of its own after that form (data-form-url),
  // so Back, or Cancel, returns to the form as it was filled in, and
  // Forward asks again. A reload keeps the history as it is.
  function backClosesDialog(d) {
    if (!window.history.pushState) return;
    var confirming = window.location.href;
    if (!(window.history.state && window.history.state.confirming)) {
      window.history.replaceState({ form: true }, "", d.dataset.formUrl);
      window.history.pushState({ confirming: true }, "", confirming);
    }
    window.addEventListener("popstate", function (event) {
      var again = event.state && event.state.confirming;
      if (again && !d.open) d.showModal();
      if (!again && d.open) d.close();
    });
    function back(event) {
      if (!(window.history.state && window.history.state.confirming)) return;
      event.preventDefault();
      window.history.back();
    }
    d.addEventListener("cancel", back); // Escape
    d.querySelectorAll("[data-dialog-cancel]").forEach(function (b) { b.addEventListener("click", back); });
  }
})();

// Application URL follows the subdomain as it is typed; the field hints at
// what is wrong before the server is asked.
(function () {
  "use strict";
  document.querySelectorAll("input[data-app-url]").forEach(function (input) {
    var target = document.querySelector(input.dataset.appUrl);
    var template = input.dataset.appUrlTemplate;
    if (!target || !template) return;
    input.addEventListener("input", function () {
      var sub = input.value.trim().toLowerCase();
      if (input.value !== sub) input.value = sub;
      target.value = sub ? template.replace("{sub}", sub) : "";
      var ok = /^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])$/.test(sub);
      input.setAttribute("aria-invalid", sub && !ok ? "true" : "false");
    });
  });
})();

// Subdomain availability, asked of the server a moment after typing stops.
// Once it is available, what the server said was wrong with the earlier
// value (the red border and the message beside the field) goes away.
(function () {
  "use strict";
  document.querySelectorAll("input[data-check-url]").forEach(function (input) {
    var status = document.querySelector(input.dataset.checkStatus);
    if (!status || !window.fetch) return;
    function clearServerError() {
      var field = input.closest(".field");
      if (field) field.classList.remove("field-invalid");
      var message = document.getElementById("f-" + input.name + "-error");
      if (message) message.remove();
      input.setAttribute("aria-describedby", status.id);
    }
    var timer = null;
    var asked = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var sub = input.value.trim().toLowerCase();
      status.textContent = "";
      status.className = "field-hint subdomain-status span-2";
      if (!sub) return;
      timer = setTimeout(function () {
        asked = sub;
        fetch(input.dataset.checkUrl + "?subdomain=" + encodeURIComponent(sub), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (answer) {
            if (answer.subdomain !== asked) return;
            status.textContent = answer.available ? "✓ " + answer.subdomain + " is available." : answer.message;
            status.className = "field-hint subdomain-status span-2 " + (answer.available ? "is-ok" : "is-bad");
            input.setAttribute("aria-invalid", answer.available ? "false" : "true");
            if (answer.available) clearServerError();
          })
          .catch(function () { /* the server checks again on submit */ });
      }, 300);
    });
  });

  // A link marked data-auto-follow is followed at once: where a form's
  // answer must send the browser on to an identity provider, a navigation
  // by script is not held to the page's form-action policy, which a
  // redirect after the form's submission would be. Without scripts, the
  // person clicks the link.
  var follow = document.querySelector("a[data-auto-follow]");
  if (follow) window.location.assign(follow.href);
})();

// Copy buttons: a button with data-copy="#id" puts that element's text on
// the clipboard (without scripts the button is hidden, and the text is
// there to select by hand), and says so for a moment.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.querySelector(button.dataset.copy);
    if (!source) return;
    var label = button.textContent;
    var timer;
    function done(ok) {
      button.textContent = ok ? "Copied" : "Selected: copy it";
      clearTimeout(timer);
      timer = setTimeout(function () { button.textContent = label; }, 2000);
    }
    // Without the clipboard API (an address that is not secure), the text
    // is selected and the browser asked to copy it.
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      done(ok);
    }
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () { done(true); }, fallback);
      } else {
        fallback();
      }
    });
  });
})();

// The webhook endpoint form's live preview: data-samples holds, per event
// type, the JSON the server would send with every field; the preview keeps
// the fields ticked for the event's object type, keys in order as the
// server writes them. Without scripts, the preview shown is the server's
// for the fields as they were when the page was drawn.
(function () {
  "use strict";
  var box = document.querySelector("[data-webhook-preview]");
  if (!box) return;
  var samples;
  try { samples = JSON.parse(box.dataset.samples); } catch (e) { return; }
  var select = box.querySelector("[data-preview-event]");
  var output = box.querySelector("[data-preview-output]");
  var objects = { "order.": "order", "device.": "device", "member.": "member", "subtenant.": "subtenant" };
  function objectOf(eventType) {
    for (var prefix in objects) {
      if (eventType.indexOf(prefix) === 0) return objects[prefix];
    }
    return "";
  }
  function sorted(value) {
    if (!value || typeof value !== "object" || Array.isArray(value)) return value;
    var out = {};
    Object.keys(value).sort().forEach(function (k) { out[k] = sorted(value[k]); });
    return out;
  }
  function draw() {
    var eventType = select.value;
    var sample = samples[eventType];
    if (!sample) return;
    var object = objectOf(eventType);
    var chosen = {};
    box.querySelectorAll('input[type="checkbox"][data-object="' + object + '"]').forEach(function (input) {
      if (input.checked) chosen[input.value] = true;
    });
    var data = {};
    Object.keys(sample.data || {}).forEach(function (name) {
      if (chosen[name]) data[name] = sample.data[name];
    });
    var payload = {};
    Object.keys(sample).forEach(function (k) { payload[k] = k === "data" ? data : sample[k]; });
    output.textContent = JSON.stringify(sorted(payload), null, 2);
  }
  select.addEventListener("change", draw);
  box.addEventListener("change", function (event) {
    if (event.target.matches('input[type="checkbox"]')) draw();
  });
  // The events ticked above choose what the preview shows first.
  var form = box.closest("form");
  if (form) {
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (input.name === "events" && input.checked && samples[input.value]) {
        select.value = input.value;
        draw();
      }
    });
  }
  draw();
})();

// "Print or save as PDF" on a statement (data-print) opens the browser's
// print dialog; the print stylesheet leaves the statement alone on the page.
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();

// A row of tabs wider than a phone scrolls sideways: show the current tab
// rather than leave it scrolled out of sight.
(function () {
  "use strict";
  document.querySelectorAll("nav.tabs").forEach(function (tabs) {
    var current = tabs.querySelector('.is-active, [aria-current="page"]');
    if (current && tabs.scrollWidth > tabs.clientWidth) {
      var from = current.getBoundingClientRect().left - tabs.getBoundingClientRect().left + tabs.scrollLeft;
      tabs.scrollLeft = from - (tabs.clientWidth - current.offsetWidth) / 2;
    }
  });
})();
