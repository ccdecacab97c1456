"""A ClickHouse HTTP interface over chdb, for Airlock's tests.

chdb is the ClickHouse engine in-process (chdb-core on PyPI), with persistent Atomic
databases. This front serves the part of ClickHouse's HTTP interface Airlock's client uses,
so the tests exercise the same client code production uses against the real engine:

- `GET /ping` and `GET /` answer `Ok.`;
- a query comes in the `query` parameter, the request body, or both (the parameter first,
  the body after it: an `INSERT … FORMAT …` and its data, which the engine is given as a
  file);
- `database` is the query's current database, `default_format` the output format of a query
  without a FORMAT clause (TabSeparated when absent);
- every other parameter is a setting, applied for that query alone;
- bodies may be sent with a length or chunked;
- an error answers status 500 with `Code: N. DB::Exception: …` and the
  `X-ClickHouse-Exception-Code` header, as the server does.

What it does not do: authentication (any user and password are accepted), sessions,
compression, server-side query parameters, progress headers, several queries at once (they
are served one at a time, as chdb runs one query at a time).

    python chdb_front.py --path DIR --port PORT
"""

import argparse
import os
import re
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import chdb.session

ENGINE_LOCK = threading.Lock()
SESSION = None

# Parameters that are not settings.
NOT_SETTINGS = {
    "query", "database", "default_format", "user", "password", "query_id",
    "session_id", "session_timeout", "session_check", "compress", "decompress",
    "wait_end_of_query", "buffer_size", "role",
}
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# `INSERT INTO t (cols) FORMAT F` with its data in the body: handed to the engine as a file,
# which it parses faster than the same data inline in the query text.
PLAIN_INSERT = re.compile(r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*$", re.S | re.I)


def exception_code(message):
    m = re.search(r"Code: (\d+)\.", message)
    return m.group(1) if m else "1001"


def literal(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Front(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "airlock-chdb-front"

    def log_message(self, fmt, *args):  # quiet: the tests read their own output
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers end with an empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, data, code=None):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        if code is not None:
            self.send_header("X-ClickHouse-Exception-Code", code)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_query(b"")

    def do_POST(self):
        self.handle_query(self.body())

    def handle_query(self, body):
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path in ("/ping", "/") and "query" not in params and not body:
            self.answer(200, b"Ok.\n")
            return
        if url.path != "/":
            self.answer(404, b"There is no handle " + url.path.encode() + b"\n")
            return
        query = params.get("query", "")
        data_file = None
        plain = PLAIN_INSERT.match(query) if body else None
        if plain and "SETTINGS" not in plain.group(1).upper():
            fd, data_file = tempfile.mkstemp(prefix="chdb-front-", suffix=".data")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
            query = f"{plain.group(1)} FROM INFILE '{data_file}' FORMAT {plain.group(2)}"
        elif body:
            query = query + ("\n" if query else "") + body.decode("utf-8", "surrogateescape")
        settings = {
            k: v for k, v in params.items() if k not in NOT_SETTINGS and not k.startswith("param_")
        }
        if any(k.startswith("param_") for k in params):
            self.answer(500, b"Code: 48. DB::Exception: the test front takes no query parameters. (NOT_IMPLEMENTED)\n", "48")
            return
        fmt = params.get("default_format", "TabSeparated")
        with ENGINE_LOCK:
            try:
                self.apply(params.get("database"), settings)
                result = SESSION.query(query, fmt)
                data = result.bytes() if hasattr(result, "bytes") else bytes(result)
            except Exception as e:  # chdb raises ChdbError with the server's message
                message = str(e).strip()
                if not message.startswith("Code:"):
                    message = "Code: 1001. DB::Exception: " + message
                self.answer(500, (message + "\n").encode("utf-8", "replace"), exception_code(message))
                return
            finally:
                self.reset(settings)
                if data_file:
                    os.unlink(data_file)
        self.answer(200, data)

    @staticmethod
    def apply(database, settings):
        SESSION.query("USE " + ("`" + database.replace("`", "\\`") + "`" if database else "default"))
        for name, value in settings.items():
            if not SETTING_NAME.match(name):
                raise ValueError(f"Code: 115. DB::Exception: Unknown setting '{name}'. (UNKNOWN_SETTING)")
            SESSION.query(f"SET {name} = {literal(value)}")

    @staticmethod
    def reset(settings):
        for name in settings:
            if SETTING_NAME.match(name):
                try:
                    SESSION.query(f"SET {name} = DEFAULT")
                except Exception:
                    pass


def main():
    global SESSION
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", required=True, help="where the engine keeps its databases")
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()
    SESSION = chdb.session.Session(args.path)
    server = ThreadingHTTPServer((args.host, args.port), Front)
    print(f"listening on {args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
