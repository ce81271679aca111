"""Flicker's runtime client for Python functions.

bootstrap.py in the same directory imports this module and calls main(). It
loads the handler named by `_HANDLER` from LAMBDA_TASK_ROOT. Then it fetches
invocations from the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API, calls the
handler and posts its result or error. Requests, log lines and error shapes
follow AWS Lambda's own Python runtime client (awslambdaric 4.2).

It does not support response streaming, SnapStart hooks, X-Ray error causes,
the framed telemetry log descriptor, or AWS_LAMBDA_LOG_FORMAT and
AWS_LAMBDA_LOG_LEVEL. It uses the standard library only and runs on
Python 3.9 to 3.13.

Startup cost is kept close to a bare `python3 -c pass`, so `json`, `socket`,
`http.client` and `logging` are not imported on the start path. Importing
them cost about 5.5 ms, 4.5 ms, 19 ms and 9 ms against 8.5 ms for the bare
start (`python3.11 -X importtime` and hyperfine on a 2-core x86-64 VM).
"""

import os
import sys
import time

import _json
import _socket

_NEXT_PATH = "/2018-06-01/runtime/invocation/next"
_INIT_ERROR_PATH = "/2018-06-01/runtime/init/error"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

# awslambdaric indents traceback lines in the log with NO-BREAK SPACE and
# separates the lines of one error with "\r", so the error stays one log event.
_LOG_INDENT = "\u00a0"

# Request id of the current invocation for the log handler. It is empty during
# init and, as in awslambdaric, keeps the last id between invocations.
_request_id = ""


class _FaultError(Exception):
    """Error detected by the runtime itself, with a `Runtime.*` error type."""

    def __init__(self, error_type, message, stack_trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack_trace = stack_trace or []


class _RuntimeAPIError(Exception):
    """Failed request to the Runtime API, after which the runtime cannot go on."""


# ---------------------------------------------------------------------------
# Runtime API client


class _ConnectionClosed(Exception):
    """The peer closed the connection before sending any byte of a response."""


class _RuntimeAPIClient:
    """HTTP/1.1 client over one persistent connection to the Runtime API.

    It uses `_socket` directly because `socket` and `http.client` cost more
    to import than the whole interpreter start (see the module docstring).
    """

    def __init__(self, address):
        host, separator, port = address.rpartition(":")
        if not separator or not host or not port.isdigit():
            raise _RuntimeAPIError(
                f"invalid AWS_LAMBDA_RUNTIME_API {address!r}: expected host:port"
            )
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        self.address = address
        self._host = host
        self._port = int(port)
        self._sock = None
        self._buffer = bytearray()

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer.clear()

    def _connect(self):
        error = None
        # A str host name makes _socket import the "idna" codec and with it
        # `re`, about 6 ms. An ASCII host name can be passed as bytes instead.
        host = self._host
        if host.isascii():
            host = host.encode("ascii")
        addresses = _socket.getaddrinfo(host, self._port, 0, _socket.SOCK_STREAM)
        for family, sock_type, proto, _canonname, sockaddr in addresses:
            sock = _socket.socket(family, sock_type, proto)
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            self._sock = sock
            return
        raise error or OSError(f"no address found for {self._host}")

    def request(self, method, path, body=None, headers=()):
        """Send one request and return (status, headers, body).

        Header names in the result are lower case. A reused connection that
        the peer closed while idle is reopened once and the request resent.
        """
        lines = [f"{method} {path} HTTP/1.1", "Host: " + self.address]
        for name, value in headers:
            # A header value must not contain line breaks.
            value = value.replace("\r", " ").replace("\n", " ")
            lines.append(f"{name}: {value}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        if body:
            data += body

        try:
            for attempt in (1, 2):
                reused = self._sock is not None
                if not reused:
                    self._connect()
                # In both failures below, the peer has not read the request.
                try:
                    self._sock.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close()
                    if reused and attempt == 1:
                        continue
                    raise
                try:
                    return self._read_response()
                except _ConnectionClosed:
                    self.close()
                    if reused and attempt == 1:
                        continue
                    raise
        except (OSError, _ConnectionClosed, ValueError) as exc:
            self.close()
            if isinstance(exc, _ConnectionClosed):
                reason = "connection closed by the peer"
            else:
                reason = str(exc) or type(exc).__name__
            raise _RuntimeAPIError(
                f"{method} http://{self.address}{path} failed: {reason}"
            ) from None

    def _fill(self):
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("connection closed in the middle of a response")
        self._buffer += chunk

    def _read_line(self):
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            if len(self._buffer) > 65536:
                raise ValueError("response line longer than 64 KiB")
            self._fill()

    def _read_exact(self, size):
        buffered = len(self._buffer)
        if buffered >= size:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data
        data = bytearray(size)
        data[:buffered] = self._buffer
        self._buffer.clear()
        with memoryview(data) as view:
            received = buffered
            while received < size:
                count = self._sock.recv_into(view[received:])
                if count == 0:
                    raise ConnectionResetError("connection closed in the middle of a response")
                received += count
        return bytes(data)

    def _read_response(self):
        if not self._buffer:
            try:
                chunk = self._sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise _ConnectionClosed()
            self._buffer += chunk

        # Skip interim 1xx responses.
        while True:
            status_line = self._read_line().decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise ValueError(f"invalid HTTP status line {status_line!r}")
            version = parts[0]
            status = int(parts[1])
            headers = {}
            while True:
                line = self._read_line()
                if not line:
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if status >= 200:
                break

        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (
            version != "HTTP/1.0" or "keep-alive" in connection
        )

        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:
            keep_alive = False
            body = self._read_until_close()

        if not keep_alive:
            self.close()
        return status, headers, body

    def _read_chunked(self):
        chunks = []
        while True:
            size = int(self._read_line().split(b";", 1)[0].strip(), 16)
            if size == 0:
                # Skip the trailer section.
                while self._read_line():
                    pass
                return b"".join(chunks)
            chunks.append(self._read_exact(size))
            self._read_line()

    def _read_until_close(self):
        chunks = [bytes(self._buffer)]
        self._buffer.clear()
        while True:
            chunk = self._sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


# ---------------------------------------------------------------------------
# JSON
#
# The `json` package imports `re`, which costs more than half of a bare
# interpreter start. The C accelerator `_json` that `json` itself uses has no
# such dependency, so the common case calls it with the settings of
# `json.loads` and `json.dumps`. Anything unusual, including every decoding
# error, falls back to the `json` package so that results and error messages
# are the same as with `json`.


class _DecoderSettings:
    """Attributes that `_json.make_scanner` reads, as `json.JSONDecoder()` sets them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__
    memo = {}


_scan_json = getattr(_json, "make_scanner", None)
if _scan_json is not None:
    _scan_json = _scan_json(_DecoderSettings)
_make_json_encoder = getattr(_json, "make_encoder", None)


def _runtime_minor_version():
    """Return the minor version of the declared runtime, such as 12 for python3.12."""
    # Flicker may run a function on another interpreter than the one its
    # runtime names, so AWS_EXECUTION_ENV decides, as it does in awslambdaric.
    execution_env = os.environ.get("AWS_EXECUTION_ENV", "")
    prefix, _, minor = execution_env.rpartition(".")
    if prefix == "AWS_Lambda_python3" and minor.isdigit():
        return int(minor)
    return sys.version_info[1]


# AWS's python3.12 and later runtimes write non-ASCII characters as they are,
# and the earlier ones escape them (awslambdaric 4.2, lambda_runtime_marshaller.py).
_ENSURE_ASCII = _runtime_minor_version() < 12
if _ENSURE_ASCII:
    _encode_json_string = getattr(_json, "encode_basestring_ascii", None)
else:
    _encode_json_string = getattr(_json, "encode_basestring", None)


def _json_loads(data):
    """Decode a JSON document from bytes, as `json.loads` does."""
    size = len(data)
    # json.loads detects UTF-16 and UTF-32 from NUL bytes and BOMs at the start.
    # The fast path only takes input that starts with non-NUL ASCII bytes.
    if _scan_json is not None and size and 0 < data[0] < 0x80 and (size == 1 or data[1]):
        try:
            text = data.decode("utf-8", "surrogatepass")
            size = len(text)
            start = 0
            while start < size and text[start] in " \t\n\r":
                start += 1
            value, end = _scan_json(text, start)
            while end < size and text[end] in " \t\n\r":
                end += 1
            if end == size:
                return value
        except Exception:
            pass
    import json

    return json.loads(data)


def _json_default(value):
    # boto3 returns DynamoDB numbers as Decimal, and awslambdaric writes their
    # exact digits. The standard encoder cannot, so integral values become int
    # (exact) and the others float.
    # NOTE: a non-integral Decimal with more than 15 significant digits can
    # lose precision here, and 1.50 is written as 1.5.
    decimal = sys.modules.get("decimal")
    if decimal is not None and isinstance(value, decimal.Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _json_dumps(value):
    """Encode a value as JSON text, as `json.dumps(value, default=_json_default)` does."""
    if _make_json_encoder is not None and _encode_json_string is not None:
        # A fresh encoder per call, because the circular-reference markers
        # dict keeps entries after an encoding error.
        encoder = _make_json_encoder(
            {}, _json_default, _encode_json_string, None, ": ", ", ", False, False, True
        )
        return "".join(encoder(value, 0))
    import json

    return json.dumps(value, default=_json_default, ensure_ascii=_ENSURE_ASCII)


# ---------------------------------------------------------------------------
# Context object


class CognitoIdentity:
    """Amazon Cognito identity of the caller (`context.identity`)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, fields):
        self.cognito_identity_id = fields.get("cognitoIdentityId")
        self.cognito_identity_pool_id = fields.get("cognitoIdentityPoolId")

    def __repr__(self):
        values = ",".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"CognitoIdentity([{values}])"


class Client:
    """Mobile client application (`context.client_context.client`)."""

    __slots__ = (
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    )

    def __init__(self, fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self):
        values = ",".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"Client([{values}])"


class ClientContext:
    """Client context sent by the invoking mobile SDK (`context.client_context`)."""

    __slots__ = ("custom", "env", "client")

    def __init__(self, fields):
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = Client(client) if client is not None else None

    def __repr__(self):
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


def _parse_json_header(value, description):
    try:
        return _json_loads(value.encode("utf-8"))
    except Exception as exc:
        raise _FaultError(
            "Runtime.LambdaContextUnmarshalError",
            f"Unable to parse {description} JSON: {exc}",
        ) from None


class LambdaContext:
    """The `context` argument of the handler."""

    def __init__(self, headers):
        environ = os.environ
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as in awslambdaric.
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")

        self.client_context = None
        client_context = headers.get("lambda-runtime-client-context")
        if client_context:
            fields = _parse_json_header(client_context, "Client Context")
            if fields is not None:
                self.client_context = ClientContext(fields)

        # `identity` is always set, with None fields when the header is missing.
        identity = headers.get("lambda-runtime-cognito-identity")
        fields = _parse_json_header(identity, "Cognito Identity") if identity else None
        self.identity = CognitoIdentity(fields or {})

        try:
            self._deadline_ms = int(headers.get("lambda-runtime-deadline-ms", ""))
        except ValueError:
            self._deadline_ms = 0

    def get_remaining_time_in_millis(self):
        """Return the milliseconds left before the invocation times out, at least 0."""
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, message):
        """Write a message to the function's log as it is, without a newline."""
        sys.stdout.write(str(message))

    def __repr__(self):
        names = (
            "aws_request_id",
            "log_group_name",
            "log_stream_name",
            "function_name",
            "memory_limit_in_mb",
            "function_version",
            "invoked_function_arn",
            "client_context",
            "identity",
            "tenant_id",
        )
        values = ",".join(f"{name}={getattr(self, name)}" for name in names)
        return f"LambdaContext([{values}])"


# ---------------------------------------------------------------------------
# Logging


def _add_log_handler(logging):
    """Add to the root logger the handler that writes Lambda's text log format."""

    class LambdaLoggerHandler(logging.Handler):
        """Handler that writes each record to stdout as one line."""

        def emit(self, record):
            try:
                record.aws_request_id = _request_id
                text = self.format(record)
                # The traceback of logger.exception() follows the trailing
                # newline of the format; "\r" keeps the record on one line.
                if text.endswith("\n"):
                    text = text[:-1]
                sys.stdout.write(text.replace("\n", "\r") + "\n")
            except RecursionError:
                raise
            except Exception:
                self.handleError(record)

    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)


class _LoggingLoader:
    """Loader wrapper that adds the log handler right after `logging` executes."""

    def __init__(self, loader, finder):
        self._loader = loader
        self._finder = finder

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        module.__spec__.loader = self._loader
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._loader.exec_module(module)
        _add_log_handler(module)


class _LoggingFinder:
    """Meta path finder that defers the log handler until `logging` is imported.

    Importing `logging` costs more than a bare interpreter start, and a
    function that never imports it never logs through it. The handler is in
    place before the importing code runs, so `logging.basicConfig()` in user
    code is a no-op, as on AWS.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if finder is self or find_spec is None:
                continue
            spec = find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _LoggingLoader(spec.loader, self)
                return spec
        return None


def _install_logging():
    if "logging" in sys.modules:
        _add_log_handler(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingFinder())


# ---------------------------------------------------------------------------
# Errors


def _flush_output():
    for stream in (sys.stdout, sys.stderr):
        # A stream that user code closed or replaced must not stop the runtime.
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _format_stack(tb):
    """Format the frames of a traceback that follow the runtime's own frames."""
    own_file = _format_stack.__code__.co_filename
    while tb is not None and tb.tb_frame.f_code.co_filename == own_file:
        tb = tb.tb_next
    import traceback

    # 4-tuples, as awslambdaric passes them, so that Python 3.11+ adds no
    # column markers (^^^) to the lines.
    frames = [
        (frame.filename, frame.lineno, frame.name, frame.line) for frame in traceback.extract_tb(tb)
    ]
    return traceback.format_list(frames)


def _error_from_exception(exc):
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": _format_stack(exc.__traceback__),
    }


def _error_from_fault(fault):
    return {
        "errorMessage": fault.message,
        "errorType": fault.error_type,
        "stackTrace": fault.stack_trace,
    }


def _log_error(error):
    """Write an error to stdout as one log line, as awslambdaric does."""
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"]
        if error["errorMessage"]:
            description += ":"
    if error["errorMessage"]:
        description += " " + error["errorMessage"]

    lines = [description, "Traceback (most recent call last):"]
    for entry in error["stackTrace"]:
        if entry == "":
            lines.append("")
        for line in entry.splitlines():
            stripped = line.lstrip(" ")
            lines.append(_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    text = "\r".join(lines).replace("\n", "\r") + "\n"
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        # For example a lone surrogate in an exception message.
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))


def _error_body(error, request_id):
    body = {
        "errorMessage": error["errorMessage"] or "",
        "errorType": error["errorType"] or "",
        "requestId": request_id,
        "stackTrace": error["stackTrace"] or [],
    }
    return _json_dumps(body).encode("utf-8", "replace")


# ---------------------------------------------------------------------------
# Initialization


def _set_sys_path(task_root):
    """Put the function code and the layers first on sys.path, as AWS's Python runtime does."""
    # Order on AWS: task root, /opt/python/lib/pythonX.Y/site-packages,
    # /opt/python. The layer directories are skipped when PYTHONPATH is set.
    # .pth files in all three are processed (site.addsitedir).
    import site

    directories = [task_root]
    if "PYTHONPATH" not in os.environ:
        major, minor = sys.version_info[:2]
        # FLICKER_OPT_DIR is set only by sandboxes that mount the layers elsewhere than /opt.
        opt = os.environ.get("FLICKER_OPT_DIR", "/opt")
        versions = [f"{major}.{minor}"]
        # The host interpreter may differ from the function's runtime. A layer built for
        # the runtime keeps its packages under the runtime's version, so that comes first.
        declared = os.environ.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_python")
        if declared[:2] == "3." and declared[2:].isdigit() and declared != versions[0]:
            versions.insert(0, declared)
        for version in versions:
            directories.append(f"{opt}/python/lib/python{version}/site-packages")
        directories.append(f"{opt}/python")
    sys.path[0:0] = directories
    for directory in directories:
        # addsitedir would append a missing directory to sys.path once more.
        if os.path.isdir(directory):
            site.addsitedir(directory)


def _load_handler(handler_name):
    """Import the handler's module and return the handler function."""
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as exc:
        raise _FaultError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler_name}': {exc}",
        ) from None

    if module_name.split(".")[0] in sys.builtin_module_names:
        raise _FaultError(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )

    import_name = module_name.replace("/", ".")
    try:
        # importlib.import_module would cost 0.3 ms to import. __import__ also
        # leaves the importlib frames out of the stack trace of an error that
        # the module raises, which awslambdaric keeps.
        __import__(import_name)
        module = sys.modules[import_name]
    except ImportError as exc:
        raise _FaultError(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_name}': {exc}",
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise _FaultError(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
            trace,
        ) from None

    try:
        return getattr(module, function_name)
    except AttributeError:
        raise _FaultError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        ) from None


def _report_init_error(client, error):
    _log_error(error)
    _flush_output()
    status, _, body = client.request(
        "POST",
        _INIT_ERROR_PATH,
        _error_body(error, ""),
        ((_ERROR_TYPE_HEADER, error["errorType"]), ("Content-Type", "application/json")),
    )
    if not 200 <= status < 300:
        _warn_status("POST", _INIT_ERROR_PATH, status, body)


def _warn_status(method, path, status, body):
    text = body[:1024].decode("utf-8", "replace")
    sys.stderr.write(f"flicker bootstrap: {method} {path} returned HTTP {status}: {text}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Invocations


def _encode_result(result):
    """Return the response body and its content type."""
    # awslambdaric passes bytes through without JSON encoding.
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return _json_dumps(result).encode("utf-8"), "application/json"
    except Exception as exc:
        raise _FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def _decode_event(body):
    # An invocation without payload reaches the handler as `{}` on AWS, so an
    # empty body is taken as `{}`. awslambdaric alone would raise
    # Runtime.UnmarshalError for it.
    # NOTE: the `{}` comes from observed AWS behaviour, not from AWS documentation.
    if not body:
        return {}
    try:
        return _json_loads(body)
    except Exception as exc:
        raise _FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None


def _invoke(client, handler, headers, body):
    """Run one invocation and post its response or error."""
    global _request_id

    request_id = headers.get("lambda-runtime-aws-request-id")
    if not request_id:
        raise _RuntimeAPIError(f"GET {_NEXT_PATH} returned no Lambda-Runtime-Aws-Request-Id header")
    _request_id = request_id

    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)

    error = None
    try:
        context = LambdaContext(headers)
        event = _decode_event(body)
        result = handler(event, context)
        payload, content_type = _encode_result(result)
    except _FaultError as fault:
        error = _error_from_fault(fault)
    except Exception as exc:
        error = _error_from_exception(exc)

    # The server must have all output of the invocation before the response.
    if error is not None:
        _log_error(error)
    _flush_output()

    if error is None:
        path = f"/2018-06-01/runtime/invocation/{request_id}/response"
        request_headers = (("Content-Type", content_type),)
    else:
        path = f"/2018-06-01/runtime/invocation/{request_id}/error"
        payload = _error_body(error, request_id)
        request_headers = (
            (_ERROR_TYPE_HEADER, error["errorType"]),
            ("Content-Type", "application/json"),
        )
    status, _, response_body = client.request("POST", path, payload, request_headers)
    if not 200 <= status < 300:
        # The server decides the outcome of the invocation, so the runtime goes on.
        _warn_status("POST", path, status, response_body)


def _run():
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    handler_name = os.environ.get("_HANDLER", "")
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        raise _RuntimeAPIError("AWS_LAMBDA_RUNTIME_API is not set")
    client = _RuntimeAPIClient(address)

    # Line buffering writes each line of output when it is complete, as
    # stderr already does, so the log keeps stdout and stderr in order and
    # loses nothing when the server kills the process at a timeout.
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True)

    _set_sys_path(task_root)
    _install_logging()

    try:
        handler = _load_handler(handler_name)
    except _FaultError as fault:
        error = _error_from_fault(fault)
    except Exception as exc:
        error = _error_from_exception(exc)
    else:
        error = None
    if error is not None:
        _report_init_error(client, error)
        return 1

    while True:
        status, headers, body = client.request("GET", _NEXT_PATH)
        if status != 200:
            text = body[:1024].decode("utf-8", "replace")
            raise _RuntimeAPIError(f"GET {_NEXT_PATH} returned HTTP {status}: {text}")
        _invoke(client, handler, headers, body)


def main():
    """Run the runtime client, and exit with status 1 after an init error or a failed request."""
    try:
        status = _run()
    except _RuntimeAPIError as exc:
        _flush_output()
        sys.stderr.write(f"flicker bootstrap: {exc}\n")
        status = 1
    sys.exit(status)
