// The peer zlh-api's IDE proxy replaces: Express + http-proxy-middleware
// with ws: true, proxying /dev/<vmid>/ide/... to the IDE with the prefix
// stripped, upstream keep-alive on (a fair fight). No auth (zlh-api's side
// does cookie auth and ownership on every request).
//   node express_proxy.js LISTEN_HOST:PORT http://IDE_HOST:PORT
const http = require('http');
const express = require('express');
const { createProxyMiddleware } = require('http-proxy-middleware');

const [listen, target] = process.argv.slice(2);
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
const proxy = createProxyMiddleware({
  target,
  ws: true,
  changeOrigin: false,
  xfwd: true,
  agent: new http.Agent({ keepAlive: true, maxSockets: 256 }),
  pathFilter: '/dev',
  pathRewrite: { '^/dev/[0-9]+/ide': '' },
  logger: { info() {}, warn() {}, error() {} },
});
const app = express();
app.disable('x-powered-by');
app.use(proxy);
const server = http.createServer(app);
server.on('upgrade', proxy.upgrade);
server.keepAliveTimeout = 75000;
server.listen(port, host, () => console.log(`express proxy on ${listen} -> ${target}`));
