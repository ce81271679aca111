// Flicker's Node.js runtime client. Flicker runs it as
// `node $LAMBDA_RUNTIME_DIR/bootstrap.js` in LAMBDA_TASK_ROOT. It loads the
// handler named by _HANDLER (CommonJS or ES module) and then serves
// invocations from the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API until the
// process is stopped. Its behaviour follows AWS's Node.js runtime interface
// client (npm aws-lambda-ric 3.x), which AWS Lambda's nodejs18.x to nodejs22.x
// runtimes use: handler lookup, error bodies and types, exit statuses, the
// callback and context API and the log line format.
//
// It does not do: response streaming (`awslambda.streamifyResponse` is not
// defined), the telemetry log file descriptor (_LAMBDA_TELEMETRY_LOG_FD),
// X-Ray error causes (Lambda-Runtime-Function-XRay-Error-Cause),
// multi-concurrency mode, or V8 heap limits from the memory size (AWS's
// bootstrap script passes them as node options). It uses only Node's
// standard library (Node.js 18 to 22).
'use strict';

const fs = require('fs');
const path = require('path');
const net = require('net');

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

// Exit statuses of aws-lambda-ric 3.x after it has reported an error.
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;
// Exit status for failures of the runtime itself: AWS_LAMBDA_RUNTIME_API
// missing or invalid, a failed Runtime API request, a GET /next response
// with a status other than 200, or an event loop that empties during init.
const EXIT_RUNTIME_FAILURE = 1;

// ---------------------------------------------------------------------------
// Diagnostics and log output

// Writes `text` to `fd` completely before returning. User code that touches
// process.stdout puts the shared pipe into non-blocking mode, so EAGAIN is
// retried after a 1 ms pause. Any other error, such as EPIPE when the reader
// is gone, drops the rest of the text.
function writeAllSync(fd, text) {
  const buffer = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(fd, buffer, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') {
        return;
      }
      sleepSync(1);
    }
  }
}

let sleepCell;
function sleepSync(milliseconds) {
  if (sleepCell === undefined) {
    sleepCell = new Int32Array(new SharedArrayBuffer(4));
  }
  Atomics.wait(sleepCell, 0, 0, milliseconds);
}

// Writes one line about a failure of the runtime itself to stderr.
function reportRuntimeProblem(message) {
  writeAllSync(2, `flicker nodejs runtime: ${message.replace(/\n/g, ' ')}\n`);
}

function exitWithRuntimeProblem(message) {
  reportRuntimeProblem(message);
  process.exit(EXIT_RUNTIME_FAILURE);
}

let utilModule;
function util() {
  if (utilModule === undefined) {
    utilModule = require('util');
  }
  return utilModule;
}

// Request id of the current or last invocation. Log lines written before the
// first invocation show "undefined", as on AWS.
let currentRequestId;

const LOG_LEVELS = {
  TRACE: 1,
  DEBUG: 2,
  INFO: 3,
  WARN: 4,
  ERROR: 5,
  FATAL: 6,
};

// Writes one log event to stdout: `<ISO time>\t<request id>\t<LEVEL>\t<text>`.
// Newlines inside the text become carriage returns, as aws-lambda-ric does for
// stdout, so one console call stays one line and one log event.
function writeTextLog(level, args) {
  const text = util().format(...args);
  const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${text}`;
  writeAllSync(1, line.replace(/\n/g, '\r') + '\n');
}

// Writes one log event as a JSON object, the format AWS uses when the
// function's log format is JSON (AWS_LAMBDA_LOG_FORMAT=JSON).
function writeJsonLog(level, args) {
  const record = {
    timestamp: new Date().toISOString(),
    level,
    requestId: currentRequestId,
  };
  let line;
  if (args.length === 1) {
    record.message = args[0];
    try {
      line = JSON.stringify(record, replaceErrorForJsonLog);
    } catch {
      record.message = util().format(args[0]);
      line = JSON.stringify(record);
    }
  } else {
    record.message = util().format(...args);
    const error = args.find((arg) => arg instanceof Error);
    if (error !== undefined) {
      record.errorType = errorConstructorName(error);
      record.errorMessage = error.message;
      record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
    }
    line = JSON.stringify(record);
  }
  writeAllSync(1, line.replace(/\n/g, '\r') + '\n');
}

function errorConstructorName(error) {
  return (error.constructor && error.constructor.name) || 'UnknownError';
}

function replaceErrorForJsonLog(_key, value) {
  if (!(value instanceof Error)) {
    return value;
  }
  return Object.assign(
    {
      errorType: errorConstructorName(value),
      errorMessage: value.message,
      stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
    },
    value,
  );
}

let jsonLogFormat = false;

// Replaces the console methods, as AWS does, so that every call writes one
// synchronous log event. Levels below AWS_LAMBDA_LOG_LEVEL are dropped.
// console.trace writes a TRACE event without a stack trace, as on AWS.
function patchConsole() {
  jsonLogFormat = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const write = jsonLogFormat ? writeJsonLog : writeTextLog;
  const minimumLevel = LOG_LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LOG_LEVELS.TRACE;
  const logFunction = (level) => {
    if (LOG_LEVELS[level] < minimumLevel) {
      return () => {};
    }
    return (...args) => write(level, args);
  };
  console.trace = logFunction('TRACE');
  console.debug = logFunction('DEBUG');
  console.info = logFunction('INFO');
  console.log = console.info;
  console.warn = logFunction('WARN');
  console.error = logFunction('ERROR');
  console.fatal = logFunction('FATAL');
}

// Logs an error the way aws-lambda-ric does: in text format
// `<label> \t<JSON of the error with its own properties>`, in JSON format the
// error alone.
function logError(label, value) {
  const error = value instanceof Error ? value : new Error(safeString(value));
  if (jsonLogFormat) {
    console.error(error);
    return;
  }
  let json;
  try {
    json = JSON.stringify(error, replaceErrorForTextLog);
  } catch {
    json = JSON.stringify(toErrorResponse(error));
  }
  console.error(label, `\t${json}`);
}

function replaceErrorForTextLog(_key, value) {
  if (!(value instanceof Error)) {
    return value;
  }
  const fields = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') {
    fields.stack = value.stack.split('\n');
  }
  return fields;
}

// ---------------------------------------------------------------------------
// Errors

// Creates an error whose name is `Runtime.<type>`, the error types that
// Lambda defines for runtime failures. The name is not enumerable, so it does
// not show up twice in logged JSON.
function runtimeError(type, message) {
  const error = new Error(message);
  Object.defineProperty(error, 'name', {
    value: `Runtime.${type}`,
    writable: true,
    configurable: true,
  });
  return error;
}

// Converts any value to a string, including symbols and objects without a
// prototype, for which String() or a template literal throws.
function safeString(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

// An object with non-empty name, message and stack strings is reported like
// an Error, as aws-lambda-ric does.
function isErrorLike(value) {
  return Boolean(value)
    && typeof value.name === 'string' && value.name !== ''
    && typeof value.message === 'string' && value.message !== ''
    && typeof value.stack === 'string' && value.stack !== '';
}

// Converts a thrown or rejected value into the Runtime API error body.
// A value that is not an Error is reported with its `typeof` as errorType,
// for example {"errorType":"string","errorMessage":"oops","trace":[]}.
// DEL (0x7F) is escaped as %7F, as aws-lambda-ric does.
function toErrorResponse(error) {
  try {
    if (util().types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: escapeDelete(error.name),
        errorMessage: escapeDelete(error.message),
        trace: escapeDelete(error.stack).split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: safeString(error), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem '
        + 'while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

function escapeDelete(text) {
  return text.replace(/\x7F/g, '%7F');
}

// Makes a user-controlled error name safe as an HTTP header value: every
// character other than tab and printable ASCII becomes %XX escapes of its
// UTF-8 bytes, so CR or LF cannot end the header early.
function toHeaderValue(text) {
  return String(text).replace(/[^\t\x20-\x7E]/gu, (character) => {
    let escaped = '';
    for (const byte of Buffer.from(character, 'utf8')) {
      escaped += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
    return escaped;
  });
}

// ---------------------------------------------------------------------------
// Runtime API client

function parseRuntimeApiAddress(address) {
  const separator = address.lastIndexOf(':');
  const port = Number(address.slice(separator + 1));
  if (separator <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    return undefined;
  }
  const host = address.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

let runtimeApi;

// The Runtime API is reached with a small HTTP/1.1 client over one
// keep-alive TCP connection instead of Node's http module, because it starts
// faster. A script that sent one GET with http.get took about 4 ms longer
// from spawn to exit than one that wrote the request to a net socket
// (hyperfine, Node.js 20.20, 2-core Linux machine). The Runtime API needs only
// sequential requests.

// The open connection, or null. It is unreferenced while idle, so it does not
// keep the event loop alive and 'beforeExit' can fire during an invocation.
let connection = null;
// Requests are sent one at a time, each after the previous one has finished.
let requestQueue = Promise.resolve();

function openConnection() {
  const socket = net.connect({ host: runtimeApi.host, port: runtimeApi.port });
  socket.setNoDelay(true);
  // Errors and closes of an idle connection only drop it. The next request
  // opens a new one.
  socket.on('error', () => {});
  socket.on('close', () => {
    if (connection === socket) {
      connection = null;
    }
  });
  return socket;
}

function dropConnection(socket) {
  if (connection === socket) {
    connection = null;
  }
  socket.destroy();
}

// Sends one request to the Runtime API and resolves with
// { statusCode, headers, body } of the response. Header names are lower case.
// The request has no timeout because GET /next waits until an invocation
// arrives.
function runtimeApiRequest(method, apiPath, headers, body) {
  const result = requestQueue.then(() => sendRequest(method, apiPath, headers, body, false));
  requestQueue = result.catch(() => {});
  return result;
}

// A request on a reused connection that fails before any byte of the response
// arrives is sent once more on a new connection, because the server may have
// closed the idle connection just before.
function sendRequest(method, apiPath, headers, body, isRetry) {
  return new Promise((resolve, reject) => {
    if (connection !== null && (connection.destroyed || !connection.writable)) {
      // The server has closed the idle connection, and its 'close' event has
      // not been emitted yet.
      dropConnection(connection);
    }
    const reused = connection !== null;
    if (connection === null) {
      connection = openConnection();
    }
    const socket = connection;
    const parser = new ResponseParser();
    let receivedBytes = false;

    const removeListeners = () => {
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    };
    const retryOrReject = (error) => {
      if (reused && !receivedBytes && !isRetry) {
        resolve(sendRequest(method, apiPath, headers, body, true));
      } else {
        reject(error);
      }
    };
    const onData = (chunk) => {
      receivedBytes = true;
      let response;
      try {
        response = parser.push(chunk);
      } catch (error) {
        removeListeners();
        dropConnection(socket);
        reject(error);
        return;
      }
      if (response !== null) {
        removeListeners();
        if (response.keepAlive) {
          socket.unref();
        } else {
          dropConnection(socket);
        }
        resolve(response);
      }
    };
    const onError = (error) => {
      removeListeners();
      dropConnection(socket);
      retryOrReject(error);
    };
    const onClose = () => {
      removeListeners();
      dropConnection(socket);
      const response = parser.finishAtClose();
      if (response !== null) {
        resolve(response);
        return;
      }
      const error = new Error('the Runtime API closed the connection before the response was complete');
      error.code = 'ECONNRESET';
      retryOrReject(error);
    };

    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.ref();

    const hostHeader = runtimeApi.host.includes(':') ? `[${runtimeApi.host}]` : runtimeApi.host;
    let head = `${method} ${API_PREFIX}${apiPath} HTTP/1.1\r\nHost: ${hostHeader}:${runtimeApi.port}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      head += `${name}: ${value}\r\n`;
    }
    head += '\r\n';
    // Head and body go out in one write, so that they travel in one segment.
    if (body === undefined) {
      socket.write(head);
    } else {
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body, 'utf8')]));
    }
  });
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

// Incremental parser for one HTTP/1.x response to a GET or POST. It handles
// Content-Length, chunked and close-delimited bodies and skips 1xx interim
// responses.
class ResponseParser {
  constructor() {
    this.buffer = Buffer.alloc(0);
    this.head = null;
    this.bodyChunks = [];
    // Content-Length bodies: bytes still expected.
    this.remaining = 0;
    // Chunked bodies: 'size', 'data', 'data-end' or 'trailer'.
    this.chunkState = 'size';
  }

  // Adds received bytes. Returns the complete response, or null while more
  // bytes are needed. Throws on a malformed response.
  push(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.head === null) {
        const end = this.buffer.indexOf(HEAD_END);
        if (end < 0) {
          return null;
        }
        this.head = parseResponseHead(this.buffer.toString('latin1', 0, end));
        this.buffer = this.buffer.subarray(end + HEAD_END.length);
        if (this.head.statusCode < 200) {
          this.head = null;
          continue;
        }
        this.remaining = this.head.contentLength;
      }
      return this.parseBody();
    }
  }

  parseBody() {
    const framing = this.head.framing;
    if (framing === 'close') {
      this.bodyChunks.push(this.buffer);
      this.buffer = Buffer.alloc(0);
      return null;
    }
    if (framing === 'length') {
      const take = Math.min(this.remaining, this.buffer.length);
      this.bodyChunks.push(this.buffer.subarray(0, take));
      this.buffer = this.buffer.subarray(take);
      this.remaining -= take;
      return this.remaining === 0 ? this.complete(true) : null;
    }
    return this.parseChunks();
  }

  parseChunks() {
    for (;;) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.remaining, this.buffer.length);
        this.bodyChunks.push(this.buffer.subarray(0, take));
        this.buffer = this.buffer.subarray(take);
        this.remaining -= take;
        if (this.remaining > 0) {
          return null;
        }
        this.chunkState = 'data-end';
      }
      const lineEnd = this.buffer.indexOf(CRLF);
      if (lineEnd < 0) {
        return null;
      }
      const line = this.buffer.toString('latin1', 0, lineEnd);
      this.buffer = this.buffer.subarray(lineEnd + CRLF.length);
      if (this.chunkState === 'data-end') {
        if (line !== '') {
          throw new Error('invalid chunked encoding in the Runtime API response');
        }
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const size = parseInt(line.split(';')[0].trim(), 16);
        if (!Number.isInteger(size) || size < 0) {
          throw new Error(`invalid chunk size '${line}' in the Runtime API response`);
        }
        this.remaining = size;
        this.chunkState = size === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        // The empty line after the optional trailer fields ends the body.
        return this.complete(true);
      }
    }
  }

  // Returns the response when the server closed the connection after a
  // complete close-delimited body, otherwise null.
  finishAtClose() {
    if (this.head === null || this.head.framing !== 'close') {
      return null;
    }
    return this.complete(false);
  }

  complete(framed) {
    return {
      statusCode: this.head.statusCode,
      headers: this.head.headers,
      body: Buffer.concat(this.bodyChunks).toString('utf8'),
      keepAlive: framed && this.head.keepAlive,
    };
  }
}

function parseResponseHead(text) {
  const lines = text.split('\r\n');
  const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
  if (statusLine === null) {
    throw new Error(`invalid status line '${lines[0]}' in the Runtime API response`);
  }

  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) {
      throw new Error(`invalid header line '${lines[i]}' in the Runtime API response`);
    }
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }

  const statusCode = Number(statusLine[2]);
  const connectionHeader = (headers.connection || '').toLowerCase();
  let framing;
  let contentLength = 0;
  if (statusCode === 204 || statusCode === 304 || statusCode < 200) {
    framing = 'length';
  } else if ((headers['transfer-encoding'] || '').toLowerCase().includes('chunked')) {
    framing = 'chunked';
  } else if (headers['content-length'] !== undefined) {
    framing = 'length';
    contentLength = Number(headers['content-length']);
    if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
      throw new Error(`invalid Content-Length '${headers['content-length']}' in the Runtime API response`);
    }
  } else {
    framing = 'close';
  }

  const keepAlive = statusLine[1] === '1'
    ? !connectionHeader.includes('close')
    : connectionHeader.includes('keep-alive');
  return { statusCode, headers, framing, contentLength, keepAlive };
}

function describeRequest(method, apiPath) {
  const host = runtimeApi.host.includes(':') ? `[${runtimeApi.host}]` : runtimeApi.host;
  return `${method} http://${host}:${runtimeApi.port}${API_PREFIX}${apiPath}`;
}

// Posts a JSON body. A failed request ends the process, because the runtime
// cannot report anything without the Runtime API. A non-2xx status (for
// example 413 for a function response that is too large) is written to
// stderr, and the runtime goes on, as aws-lambda-ric does.
async function postJson(apiPath, bodyText, extraHeaders) {
  const headers = Object.assign(
    {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(bodyText),
    },
    extraHeaders,
  );
  let response;
  try {
    response = await runtimeApiRequest('POST', apiPath, headers, bodyText);
  } catch (error) {
    exitWithRuntimeProblem(`${describeRequest('POST', apiPath)} failed: ${error.message}`);
  }
  if (response.statusCode < 200 || response.statusCode > 299) {
    reportRuntimeProblem(
      `${describeRequest('POST', apiPath)} was rejected with HTTP ${response.statusCode}: `
        + response.body.slice(0, 1000),
    );
  }
}

function postInitError(error) {
  const response = toErrorResponse(error);
  return postJson('/init/error', JSON.stringify(response), {
    [ERROR_TYPE_HEADER]: toHeaderValue(response.errorType),
  });
}

function postInvocationError(requestId, error) {
  const response = toErrorResponse(error);
  return postJson(`/invocation/${encodeURIComponent(requestId)}/error`, JSON.stringify(response), {
    [ERROR_TYPE_HEADER]: toHeaderValue(response.errorType),
  });
}

async function fetchNextInvocation() {
  const apiPath = '/invocation/next';
  let response;
  try {
    response = await runtimeApiRequest('GET', apiPath, {}, undefined);
  } catch (error) {
    exitWithRuntimeProblem(`${describeRequest('GET', apiPath)} failed: ${error.message}`);
  }
  if (response.statusCode !== 200) {
    exitWithRuntimeProblem(
      `${describeRequest('GET', apiPath)} was rejected with HTTP ${response.statusCode}: `
        + response.body.slice(0, 1000),
    );
  }
  return response;
}

// ---------------------------------------------------------------------------
// Handler loading

// Sets NODE_PATH as AWS's nodejs20.x bootstrap script does when it is not
// set: layers (/opt/nodejs/node<major>/node_modules, /opt/nodejs/node_modules)
// first, then the runtime directory and its node_modules, then the task root.
// NODE_PATH applies to require() only; ES module imports ignore it.
function setDefaultNodePath(taskRoot, runtimeDir) {
  if (process.env.NODE_PATH) {
    return;
  }
  const major = process.versions.node.split('.')[0];
  const paths = [`/opt/nodejs/node${major}/node_modules`, '/opt/nodejs/node_modules'];
  if (runtimeDir) {
    paths.push(path.join(runtimeDir, 'node_modules'), runtimeDir);
  }
  paths.push(taskRoot);
  process.env.NODE_PATH = paths.join(path.delimiter);
  const Module = require('module');
  // Node reads NODE_PATH once at startup. Module._initPaths() (undocumented,
  // present in Node.js 18 to 22) reads it again.
  if (typeof Module._initPaths === 'function') {
    Module._initPaths();
  }
}

// Returns true when the nearest package.json above `directory` declares
// "type": "module". The search stops at a node_modules directory.
function isInModulePackage(directory) {
  let current = directory;
  for (;;) {
    if (path.basename(current) === 'node_modules') {
      return false;
    }
    const packageJsonPath = path.join(current, 'package.json');
    if (fs.existsSync(packageJsonPath)) {
      try {
        return JSON.parse(fs.readFileSync(packageJsonPath, 'utf8')).type === 'module';
      } catch (error) {
        console.warn(
          `${packageJsonPath} cannot be read, it will be ignored for ES module detection purposes.`,
          error,
        );
        return false;
      }
    }
    const parent = path.dirname(current);
    if (parent === current) {
      return false;
    }
    current = parent;
  }
}

function importModule(file) {
  const { pathToFileURL } = require('url');
  return import(pathToFileURL(file).href);
}

// Loads a CommonJS module, or imports it when Node refuses to require() it
// because it is an ES module.
async function requireOrImport(file) {
  try {
    return require(file);
  } catch (error) {
    if (error && (error.code === 'ERR_REQUIRE_ESM' || error.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      return importModule(file);
    }
    throw error;
  }
}

// Loads the handler module `<taskRoot>/<moduleRoot><moduleName>` in the order
// of aws-lambda-ric 3.x. It tries the exact file name first, where a directory
// loads its index.js or package.json "main". Then it tries `.js`, imported
// when the nearest package.json has "type": "module", then `.mjs` and `.cjs`.
// Last comes Node's module resolution from the task root (node_modules and
// NODE_PATH).
async function loadModule(taskRoot, moduleRoot, moduleName) {
  const basePath = path.resolve(taskRoot, moduleRoot, moduleName);
  if (fs.existsSync(basePath)) {
    return requireOrImport(basePath);
  }
  if (fs.existsSync(`${basePath}.js`)) {
    if (isInModulePackage(path.dirname(basePath))) {
      return importModule(`${basePath}.js`);
    }
    return requireOrImport(`${basePath}.js`);
  }
  if (fs.existsSync(`${basePath}.mjs`)) {
    return importModule(`${basePath}.mjs`);
  }
  if (fs.existsSync(`${basePath}.cjs`)) {
    return requireOrImport(`${basePath}.cjs`);
  }
  // Throws MODULE_NOT_FOUND with the message that AWS shows, including the
  // require stack that names this file.
  const resolved = require.resolve(moduleName, {
    paths: [taskRoot, path.resolve(taskRoot, moduleRoot)],
  });
  return requireOrImport(resolved);
}

function findProperty(object, propertyPath) {
  return propertyPath.split('.').reduce(
    (value, key) => (value !== null && value !== undefined ? value[key] : undefined),
    object,
  );
}

// Loads the function named by a handler string such as `index.handler` or
// `src/app.handler`. As in aws-lambda-ric, the last path segment is split at
// its first dot: the part before names the module file and the rest is a
// property path, so `app.api.get` calls `require('./app').api.get`. A module
// file name therefore cannot contain a dot. When the property is missing on
// the module, it is also looked up on its default export, as aws-lambda-ric
// 4.x does, so `export default { handler }` works.
async function loadHandler(taskRoot, handlerString) {
  if (handlerString.includes('..')) {
    throw runtimeError(
      'MalformedHandlerName',
      `'${handlerString}' is not a valid handler name. `
        + 'Use absolute paths when specifying root directories in handler names.',
    );
  }
  const lastSlash = handlerString.lastIndexOf('/');
  const moduleRoot = handlerString.slice(0, lastSlash + 1);
  const moduleAndProperty = handlerString.slice(lastSlash + 1);
  const firstDot = moduleAndProperty.indexOf('.');
  if (firstDot < 0) {
    throw runtimeError('MalformedHandlerName', 'Bad handler');
  }
  const moduleName = moduleAndProperty.slice(0, firstDot);
  const propertyPath = moduleAndProperty.slice(firstDot + 1);

  let userModule;
  try {
    userModule = await loadModule(taskRoot, moduleRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw runtimeError('UserCodeSyntaxError', String(error));
    }
    if (error && error.code === 'MODULE_NOT_FOUND') {
      throw runtimeError('ImportModuleError', String(error));
    }
    throw error;
  }

  let handler = findProperty(userModule, propertyPath);
  if (!handler && userModule !== null && typeof userModule === 'object' && 'default' in userModule) {
    handler = findProperty(userModule.default, propertyPath);
  }
  if (!handler) {
    throw runtimeError('HandlerNotFound', `${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw runtimeError('HandlerNotFound', `${handlerString} is not a function`);
  }
  return handler;
}

// ---------------------------------------------------------------------------
// Invocations

// The function that the 'beforeExit' listener runs once the event loop is
// empty, or null. An invocation sets it to post its result at that point.
let beforeExitAction = null;

// Request id of the invocation whose result has not been posted yet.
let openRequestId = null;
// The POST of the last result, awaited before the process exits on an error.
let resultPost = Promise.resolve();
let handlerFunction = null;
// Init ends when the first GET /next is sent. An uncaught error before that,
// including one raised after the handler module has loaded, is an init error.
let initFinished = false;
// Set once an uncaught error is being reported; the process exits after that.
let exiting = false;

function parseJsonHeader(value, name) {
  if (value === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error.toString()}`);
  }
}

// Sets the context fields that come from the environment and the invocation
// headers, as aws-lambda-ric does. memoryLimitInMB is a string there too.
function addInvocationData(context, headers) {
  const deadlineMs = Number(headers['lambda-runtime-deadline-ms']);
  return Object.assign(context, {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadlineMs - Date.now(),
  });
}

function serializeResult(result) {
  return JSON.stringify(result === undefined ? null : result);
}

// Runs one invocation with the semantics of aws-lambda-ric 3.x:
// - A returned promise (any thenable) settles the invocation when it settles.
// - callback(error, result) settles it. With a result and
//   context.callbackWaitsForEmptyEventLoop true (the default), the response
//   is posted once the event loop is empty. Otherwise it is posted at once.
// - context.done, succeed and fail settle it at once.
// - Only the first of these calls counts. A synchronous throw counts as
//   callback(error).
// - A handler that does neither gets a null response once the event loop is
//   empty. This includes a plain return value of a non-async handler.
function runInvocation(requestId, headers, body) {
  let settled = false;
  let reported = false;
  let waitForEmptyEventLoop = true;

  const report = (sendResult) => {
    if (exiting) {
      // The process exits after an uncaught error, which was reported instead.
      return;
    }
    if (reported) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    reported = true;
    beforeExitAction = null;
    openRequestId = null;
    resultPost = sendResult().then(scheduleNextInvocation);
  };

  const postError = (error) => {
    report(() => {
      logError('Invoke Error', error);
      return postInvocationError(requestId, error);
    });
  };

  const postResult = (result) => {
    report(() => {
      let bodyText;
      try {
        bodyText = serializeResult(result);
      } catch {
        // aws-lambda-ric 3.x reports this plain Error for a result that
        // JSON.stringify rejects (circular structure, BigInt).
        const error = new Error('Unable to stringify response body');
        logError('Invoke Error', error);
        return postInvocationError(requestId, error);
      }
      return postJson(`/invocation/${encodeURIComponent(requestId)}/response`, bodyText, {});
    });
  };

  const firstCallOnly = (fn) => (...args) => {
    if (settled) {
      return;
    }
    settled = true;
    fn(...args);
  };

  const done = (error, result) => {
    if (error !== undefined && error !== null) {
      postError(error);
    } else {
      postResult(result);
    }
  };

  const callback = firstCallOnly((error, result) => {
    if (error !== undefined && error !== null) {
      postError(error);
    } else if (!waitForEmptyEventLoop) {
      postResult(result);
    } else {
      beforeExitAction = () => setImmediate(() => postResult(result));
    }
  });

  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    done: firstCallOnly(done),
    succeed: firstCallOnly((result) => done(null, result)),
    // fail() without an error reports the string "handled", as on AWS.
    fail: firstCallOnly((error) => done(error === undefined || error === null ? 'handled' : error, null)),
  };

  openRequestId = requestId;
  beforeExitAction = () => {
    if (!reported) {
      settled = true;
      postResult(null);
    }
  };

  try {
    const event = JSON.parse(body);
    const result = handlerFunction(event, addInvocationData(context, headers), callback);
    if (result && typeof result.then === 'function') {
      result.then(context.succeed, context.fail);
    }
  } catch (error) {
    callback(error);
  }
}

async function serveNextInvocation() {
  initFinished = true;
  const { headers, body } = await fetchNextInvocation();
  const requestId = headers['lambda-runtime-aws-request-id'];
  if (!requestId) {
    exitWithRuntimeProblem('GET /invocation/next returned no Lambda-Runtime-Aws-Request-Id header');
  }
  currentRequestId = requestId;
  const traceId = headers['lambda-runtime-trace-id'];
  if (traceId) {
    process.env._X_AMZN_TRACE_ID = traceId;
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  runInvocation(requestId, headers, body);
}

function scheduleNextInvocation() {
  setImmediate(() => {
    serveNextInvocation().catch(handleUncaughtException);
  });
}

// ---------------------------------------------------------------------------
// Process-level errors

// Reports an error that no handler code caught, then exits, as
// aws-lambda-ric does: during init it is the init error, during an
// invocation that invocation's error. Between invocations it is only logged
// (aws-lambda-ric posts it for the last invocation, which is already done),
// and the process exits once the last result has been posted.
function reportFatalError(label, error, exitStatus) {
  if (exiting) {
    logError(label, error);
    return;
  }
  exiting = true;
  beforeExitAction = null;
  logError(label, error);
  let post;
  if (!initFinished) {
    post = postInitError(error);
  } else if (openRequestId !== null) {
    post = postInvocationError(openRequestId, error);
  } else {
    post = resultPost;
  }
  post.finally(() => process.exit(exitStatus));
}

function handleUncaughtException(error) {
  reportFatalError('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION);
}

function handleUnhandledRejection(reason, promise) {
  // new Error(undefined) in aws-lambda-ric gives an empty message.
  const message = reason === undefined ? '' : safeString(reason);
  const error = runtimeError('UnhandledPromiseRejection', message);
  error.reason = reason;
  error.promise = promise;
  reportFatalError('Unhandled Promise Rejection', error, EXIT_UNHANDLED_REJECTION);
}

function handleBeforeExit() {
  const action = beforeExitAction;
  beforeExitAction = null;
  if (action !== null) {
    action();
  } else if (handlerFunction === null && !exiting) {
    // The handler module is still loading, for example because a top-level
    // await never settles, and nothing else can wake the process up.
    exitWithRuntimeProblem(
      `the event loop became empty before the handler module ${process.env._HANDLER} finished loading`,
    );
  }
}

// ---------------------------------------------------------------------------
// Start

async function main() {
  const address = process.env.AWS_LAMBDA_RUNTIME_API || '';
  runtimeApi = parseRuntimeApiAddress(address);
  if (runtimeApi === undefined) {
    exitWithRuntimeProblem(`AWS_LAMBDA_RUNTIME_API is missing or not host:port: '${address}'`);
  }
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();

  patchConsole();
  process.on('uncaughtException', handleUncaughtException);
  process.on('unhandledRejection', handleUnhandledRejection);
  process.on('beforeExit', handleBeforeExit);
  setDefaultNodePath(taskRoot, process.env.LAMBDA_RUNTIME_DIR);

  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER || '');
  } catch (error) {
    handleUncaughtException(error);
    return;
  }
  handlerFunction = handler;
  scheduleNextInvocation();
}

main();
