// Leaves COUNT server-side sockets in CLOSE_WAIT with unread data, the way an application that
// stops reading does: clients send and close, the server never reads or closes. Runs until killed.
// usage: node close-wait-sockets.mjs COUNT PORT
import { connect, createServer } from 'node:net';

const count = Number(process.argv[2] ?? 5);
const port = Number(process.argv[3] ?? 18080);
const held = [];
const server = createServer({ pauseOnConnect: true }, (socket) => held.push(socket));
server.listen(port, '127.0.0.1', () => {
  for (let i = 0; i < count; i++) {
    const client = connect(port, '127.0.0.1', () => client.end('GET / HTTP/1.1\r\nHost: stuck\r\n\r\n'));
  }
  setTimeout(() => console.log(`ready ${held.length}`), 500);
});
setInterval(() => {}, 1 << 30);
