// The dedicated Web Worker that runs tinychat off the page's main thread. Protocol (all messages
// carry the request's `id`):
//   page → worker: { type: "start", options } | { type: "reply", messages, options }
//                  | { type: "cancel" } | { type: "moderate", text } | { type: "dispose" }
//   worker → page: { type: "progress", progress } | { type: "chunk", chunk }
//                  | { type: "result", value } | { type: "error", error: { name, message, code } }
// The start request's result is { info, contract } (contract: the lists the page takes from Rust).

import { LocalCore, tinychatError } from "./core.js";

let core = null;

function post(msg) {
  self.postMessage(msg);
}

function fail(id, e) {
  post({ id, type: "error", error: { name: e?.name ?? "Error", message: e?.message ?? String(e), code: e?.code ?? "internal" } });
}

self.onmessage = async (event) => {
  const { id, type } = event.data;
  try {
    switch (type) {
      case "start": {
        core = await LocalCore.start({
          ...event.data.options,
          onProgress: (progress) => post({ id, type: "progress", progress }),
        });
        post({ id, type: "result", value: { info: core.info, contract: core.contract } });
        break;
      }
      case "reply": {
        if (!core) throw tinychatError("the engine is not started", "Error", "disposed");
        const value = await core.reply(event.data.messages, event.data.options, (chunk) =>
          post({ id, type: "chunk", chunk }),
        );
        post({ id, type: "result", value });
        break;
      }
      case "cancel":
        core?.cancel();
        post({ id, type: "result", value: null });
        break;
      case "moderate": {
        if (!core) throw tinychatError("the engine is not started", "Error", "disposed");
        post({ id, type: "result", value: await core.moderate(event.data.text) });
        break;
      }
      case "dispose":
        await core?.dispose();
        core = null;
        post({ id, type: "result", value: null });
        break;
      default:
        throw tinychatError(`unknown worker message ${JSON.stringify(type)}`, "Error", "invalid_argument");
    }
  } catch (e) {
    fail(id, e);
  }
};
