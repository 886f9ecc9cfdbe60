function bind() {
  if (!window.Crumb) return setTimeout(bind, 50);
  ["analytics", "marketing"].forEach(function (c) {
    var box = document.getElementById("t-" + c);
    box.checked = Crumb.allowed(c);
    box.addEventListener("change", function () {
      var choice = {};
      choice[c] = box.checked;
      Crumb.set(choice);
    });
  });
  Crumb.on("change", function () {
    ["analytics", "marketing"].forEach(function (c) { document.getElementById("t-" + c).checked = Crumb.allowed(c); });
  });
}
bind();
