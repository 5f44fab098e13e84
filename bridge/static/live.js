// Shared by the live pages (pair.js, events.js; loaded before them): JSON calls that send an ended
// login back to the login form, and a server-sent event stream that comes back when the browser gives up.
(function () {
  "use strict";

  var wabridge = window.wabridge = window.wabridge || {};

  function toLogin() {
    window.location.href = "/login?next=" + encodeURIComponent(window.location.pathname);
  }

  // fetch(path, options) to the parsed JSON body. A 401 goes to the login form (and rejects);
  // any other error status rejects with the server's message.
  wabridge.json = function (path, options) {
    return fetch(path, options).then(function (response) {
      if (response.status === 401) {
        toLogin();
        throw new Error(_("Please log in again."));
      }
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error((body && body.error && body.error.message) || _("That did not work."));
        }
        return body;
      });
    });
  };

  // Follow the event stream at `url`: onMessage(data) gets each message's parsed JSON.
  // options.onOpen(), options.onError(): the stream is up, the stream dropped (the browser retries).
  // options.probe: a URL asked when the browser gives up for good, to tell an ended login (to the
  // login form) from an unreachable server; either way the stream is opened again 5 s later.
  wabridge.live = function (url, onMessage, options) {
    var opts = options || {};
    var source = null;

    function connect() {
      source = new EventSource(url);
      source.onopen = function () {
        if (opts.onOpen) { opts.onOpen(); }
      };
      source.onmessage = function (event) { onMessage(JSON.parse(event.data)); };
      source.onerror = function () {
        if (opts.onError) { opts.onError(); }
        if (source.readyState === EventSource.CLOSED) {
          source.close();
          if (opts.probe) {
            fetch(opts.probe, { credentials: "same-origin" }).then(function (response) {
              if (response.status === 401) { toLogin(); }
            }).catch(function () { return null; });
          }
          window.setTimeout(connect, 5000);
        }
      };
    }

    connect();
  };
}());
