// calbot: tell the server the browser's time zone. Chainlit has no API for it, so this posts a window message,
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
  function post() {
    var tz = zone();
    if (tz) window.postMessage({ type: "calbot:time_zone", time_zone: tz }, "*");
  }
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (data && typeof data === "object" && data.type === "calbot:time_zone?") post();
  });
  [500, 1500, 4000].forEach(function (delay) { setTimeout(post, delay); });
})();
