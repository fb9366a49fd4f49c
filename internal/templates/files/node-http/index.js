'use strict';

// Serves function/handler.js over HTTP for the watchdog's http mode, using
// only Node's standard library. It listens on 127.0.0.1 at the port in
// $http_port (8082 when unset) and stops on SIGTERM.

const http = require('node:http');
const handler = require('./function/handler');

class FunctionEvent {
  constructor(req, body) {
    const url = new URL(req.url, 'http://localhost');
    this.body = body;
    this.headers = req.headers;
    this.method = req.method;
    this.path = url.pathname;
    this.query = Object.fromEntries(url.searchParams);
  }
}

class FunctionContext {
  constructor(done) {
    this.statusCode = 200;
    this.headerValues = {};
    this.done = done;
    this.finished = false;
  }

  status(code) {
    if (code === undefined) return this.statusCode;
    this.statusCode = code;
    return this;
  }

  headers(values) {
    if (values === undefined) return this.headerValues;
    this.headerValues = values;
    return this;
  }

  succeed(value) {
    this.finish(undefined, value);
    return this;
  }

  fail(err) {
    this.finish(err === undefined ? new Error('the function failed') : err);
    return this;
  }

  finish(err, value) {
    if (this.finished) return;
    this.finished = true;
    this.done(err, value);
  }
}

// parseBody decodes the body as express's JSON and text parsers would.
function parseBody(req, raw) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) {
    return raw.length ? JSON.parse(raw.toString('utf8')) : {};
  }
  if (type.startsWith('text/')) return raw.toString('utf8');
  return raw;
}

function encode(value, headers) {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'object') {
    if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
    return Buffer.from(JSON.stringify(value));
  }
  return Buffer.from(String(value));
}

function send(res, ctx, err, value) {
  let status = ctx.status();
  const headers = { ...ctx.headers() };
  let body;
  if (err !== undefined) {
    console.error(err);
    status = status >= 400 ? status : 500;
    body = Buffer.from(String(err && err.message ? err.message : err));
  } else {
    body = encode(value, headers);
  }
  headers['Content-Length'] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}

function serve(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let event;
    try {
      event = new FunctionEvent(req, parseBody(req, Buffer.concat(chunks)));
    } catch (e) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('invalid JSON body: ' + e.message + '\n');
      return;
    }
    const ctx = new FunctionContext((err, value) => send(res, ctx, err, value));
    Promise.resolve()
      .then(() => handler(event, ctx))
      .then((value) => ctx.succeed(value), (err) => ctx.fail(err));
  });
}

const port = Number(process.env.http_port || 8082);
const server = http.createServer(serve);
server.listen(port, '127.0.0.1', () => console.error(`serving on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
