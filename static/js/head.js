// Runs in <head>, before the page is first painted (layouts.Base loads it
// without defer): it tells the stylesheet that scripts run, with the class
// "js" on <html>, so what only works with a script (the phone's Menu button,
// the theme choice) is shown only then.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
})();
