function show() {
  document.getElementById("cookies").textContent = document.cookie || "(none)";
  if (!window.Crumb) return;
  ["functional", "analytics", "marketing"].forEach(function (c) {
    document.getElementById("s-" + c).textContent = Crumb.allowed(c) ? "running" : "blocked";
  });
}
function ready() {
  if (!window.Crumb) return setTimeout(ready, 50);
  Crumb.on("change", function () { setTimeout(show, 50); });
  show();
}
ready();
