// PeerJS server 1.0.2 (npm package `peer`, a devDependency) on 127.0.0.1:PORT, for
// bench/signaling.py, which starts it inside the benchmark's network namespace:
//
//     node bench/peerjs_server.js PORT
//
// PeerServer's own defaults otherwise (key "peerjs", path "/", so the WebSocket is
// /peerjs?key=peerjs&id=ID&token=TOKEN; its `ws` server has permessage-deflate off).
// Prints one line once it listens; exits on SIGTERM or SIGINT.

import { PeerServer } from "peer";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error("usage: node bench/peerjs_server.js PORT");
    process.exit(2);
}

const server = PeerServer({ host: "127.0.0.1", port, path: "/", key: "peerjs" }, () => {
    console.log(`peerjs listening on 127.0.0.1:${port}`);
});
// PeerServer reports a bad socket as an event; without a listener Node would exit.
server.on("error", (error) => console.error(`peerjs error: ${error}`));

for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => process.exit(0));
}
