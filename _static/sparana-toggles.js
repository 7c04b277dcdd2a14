/*
 * Make every sidebar toggle work, at every width.
 *
 * pydata-sphinx-theme (0.17) binds its click handlers to the first `.primary-toggle` and the
 * first `.secondary-toggle` of the page (document.querySelector). Its own header renders such
 * buttons, hidden under sphinx-book-theme, before the ones sphinx-book-theme shows in the
 * article header; so the buttons a reader sees do nothing: below 992 px neither the chapter
 * list nor the page contents opens, and above it the chapter list does not collapse
 * (pydata-sphinx-theme issue 2451, sphinx-book-theme issue 988).
 *
 * A click on any other toggle is handed to the first one, which runs the theme's own code
 * (sphinx-book-theme's collapse on wide screens, pydata-sphinx-theme's dialog on narrow ones).
 * Where the first toggle is the one a reader clicks (a theme without the bug), nothing changes.
 */
(function () {
  "use strict";
  var SELECTORS = [".primary-toggle", ".secondary-toggle"];
  document.addEventListener(
    "click",
    function (event) {
      if (!event.target || !event.target.closest) return;
      for (var i = 0; i < SELECTORS.length; i++) {
        var clicked = event.target.closest(SELECTORS[i]);
        if (!clicked) continue;
        var bound = document.querySelector(SELECTORS[i]);
        if (bound && bound !== clicked) {
          event.preventDefault();
          event.stopPropagation();
          bound.click();
        }
        return;
      }
    },
    true
  );
})();
