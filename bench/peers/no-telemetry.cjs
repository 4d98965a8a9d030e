// Preloaded into Artillery (node --require): its telemetry client, posthog-node, is replaced by one that
// sends nothing. Artillery 2 sends an event even with ARTILLERY_DISABLE_TELEMETRY set; the bench checks
// with strace that every connection of the run goes to 127.0.0.1 (bench/run.js, case j).
'use strict';
const Module = require('node:module');
const load = Module._load;
class PostHog {
  capture() {}
  identify() {}
  flush() {}
  shutdown() {}
  shutdownAsync() {
    return Promise.resolve();
  }
}
Module._load = function (request, parent, isMain) {
  if (request === 'posthog-node') return { PostHog };
  return load.call(this, request, parent, isMain);
};
