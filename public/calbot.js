// calbot: tell the server the browser's time zone (and whether this browser was already shown the sandbox
// notice, which it then shows once per browser rather than in every chat). Chainlit has no API for it, so this posts a window message,
// which Chainlit forwards to @cl.on_window_message. The server asks for it when a chat starts (a window message of
// type "calbot:time_zone?"); the first posts below cover a chat that started before this script ran.
(function () {
  function zone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
    } catch (error) {
      return null;
    }
  }
  var SEEN = "calbot:seen:sandbox";
  function seen() {
    try {
      return window.localStorage.getItem(SEEN) === "1" ? ["sandbox"] : [];
    } catch (error) {
      return [];
    }
  }
  function post() {
    var tz = zone();
    if (tz) window.postMessage({ type: "calbot:time_zone", time_zone: tz, seen_notices: seen() }, "*");
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || typeof data !== "object") return;
    if (data.type === "calbot:time_zone?") post();
    if (data.type === "calbot:notice_shown" && data.notice === "sandbox") {
      try { window.localStorage.setItem(SEEN, "1"); } catch (error) { /* private mode: shown again next time */ }
    }
  });
  [500, 1500, 4000].forEach(function (delay) { setTimeout(post, delay); });
})();
