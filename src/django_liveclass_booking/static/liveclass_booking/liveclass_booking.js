/* django-liveclass-booking: small helpers of the optional pages. Every page works without them. */
(function () {
  "use strict";
  var body = document.body;

  // The first page a signed-in person opens without a known zone sends the browser's zone once,
  // then shows itself again in that zone.
  var tzForm = document.getElementById("lcb-timezone-form");
  if (body.hasAttribute("data-detect-timezone") && tzForm && window.fetch && window.Intl) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", tzForm.elements.csrfmiddlewaretoken.value);
      data.append("timezone", zone);
      data.append("detected", "1");
      fetch(tzForm.action, {method: "POST", body: data, credentials: "same-origin"}).then(function (response) {
        if (response.status === 204) { window.location.reload(); }
      });
    }
  }

  // The zone pickers' suggestions: one list for every page, fetched (and cached) when first needed.
  var loaded = false;
  function loadZones() {
    var list = document.getElementById("lcb-timezones");
    if (loaded || !list || !window.fetch) { return; }
    loaded = true;
    fetch(body.getAttribute("data-timezone-names-url")).then(function (r) { return r.json(); }).then(function (names) {
      var fragment = document.createDocumentFragment();
      names.forEach(function (name) {
        var option = document.createElement("option");
        option.value = name;
        fragment.appendChild(option);
      });
      list.appendChild(fragment);
    });
  }
  document.querySelectorAll("input[list=lcb-timezones]").forEach(function (input) {
    input.addEventListener("focus", loadZones);
    input.addEventListener("input", loadZones);
  });

  // Phones show each table row as a card: each cell is labelled with its column's name.
  document.querySelectorAll("main table").forEach(function (table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.trim();
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, index) {
        if (heads[index] && !cell.hasAttribute("data-label")) { cell.setAttribute("data-label", heads[index]); }
      });
    });
  });
})();
