/// The small servers `RegistryServer` runs beside docker-registry, as python3 scripts
/// written into its directory: a bearer-token issuer and a fault-injecting proxy.
enum RegistryFixtureScripts {
    /// `token-server.py DIR PORT SERVICE ISSUER`: answers `GET /token?service=&scope=…` as
    /// Docker's token servers do. Users and what each may do come from `DIR/token-users.json`
    /// (`{"users": {"NAME": {"password": "…", "actions": ["pull"]}}, "anonymous": ["pull"]}`);
    /// a wrong password is a 401, a scope asks for actions and is granted only the ones the
    /// user has. The JWT is signed RS256 with `openssl dgst`, its header carries the signing
    /// certificate (`x5c`), which the registry trusts through `auth.token.rootcertbundle`.
    /// Each request appends a line to `DIR/token-requests.log` (user, scopes), so a test can
    /// count how often a client asked.
    static let tokenServer = #"""
    import base64, http.server, json, os, signal, subprocess, sys, time, urllib.parse

    # The test's threads block SIGTERM, and a child inherits the mask: take it back.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

    DIR, PORT, SERVICE, ISSUER = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    KEY, CERT = os.path.join(DIR, "token.key"), os.path.join(DIR, "token.crt")
    DER = subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"], capture_output=True, check=True).stdout
    X5C = base64.b64encode(DER).decode()

    def b64url(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def sign(claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [X5C]}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input.encode(),
                                   capture_output=True, check=True).stdout
        return signing_input + "." + b64url(signature)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, document, extra=()):
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path != "/token":
                return self.reply(404, {"details": "no such path"})
            query = urllib.parse.parse_qs(url.query)
            if query.get("service", [""])[0] != SERVICE:
                return self.reply(400, {"details": "unknown service"})
            with open(os.path.join(DIR, "token-users.json")) as f:
                config = json.load(f)
            user, actions = None, config.get("anonymous", [])
            authorization = self.headers.get("Authorization")
            if authorization:
                try:
                    scheme, _, encoded = authorization.partition(" ")
                    name, _, password = base64.b64decode(encoded).decode().partition(":")
                except Exception:
                    scheme, name, password = "", "", ""
                entry = config["users"].get(name)
                if scheme != "Basic" or entry is None or entry["password"] != password:
                    return self.reply(401, {"details": "incorrect username or password",
                                            "errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]},
                                      [("WWW-Authenticate", 'Basic realm="netctl-test-token"')])
                user, actions = name, entry["actions"]
            access, scopes = [], []
            for scope in query.get("scope", []):
                for item in scope.split(" "):
                    parts = item.split(":")
                    if len(parts) < 3:
                        continue
                    scopes.append(item)
                    wanted = parts[-1].split(",")
                    access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                                   "actions": [a for a in wanted if a in actions]})
            with open(os.path.join(DIR, "token-requests.log"), "a") as log:
                log.write("%s %s\n" % (user or "-", " ".join(scopes)))
            now = int(time.time())
            claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                      "iat": now, "jti": os.urandom(8).hex(), "access": access}
            token = sign(claims)
            self.reply(200, {"token": token, "access_token": token, "expires_in": 300,
                             "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True
    server.serve_forever()
    """#

    /// `fault-proxy.py DIR PORT UPSTREAM_PORT http|https`: passes every request on to the
    /// registry (Host kept, so the registry's Location URLs name the proxy), except what
    /// `DIR/fault.json` says to break:
    /// `{"kind": "tamperBlob"}` flips the first byte of every blob GET body;
    /// `{"kind": "cutBlob", "afterBytes": N, "count": C}` closes the first C blob GETs
    /// after N body bytes; `{"kind": "failFirst", "status": S, "count": C, "retryAfter": R}`
    /// answers the first C requests with S (and `Retry-After: R`). A new fault.json starts
    /// the counts afresh. `DIR/proxy-stats.json` holds `{"faults": …, "requests": …, "storage": …, "leaked": …}`
    /// (storage: requests to the far end of redirects; leaked: those that carried an
    /// Authorization header).
    static let faultProxy = #"""
    import http.client, http.server, json, os, signal, socket, ssl, sys, threading

    # The test's threads block SIGTERM, and a child inherits the mask: take it back.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

    DIR, PORT, UPSTREAM, SCHEME = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
           "expect", "content-length"}
    lock = threading.Lock()
    state = {"text": None, "fault": {}, "served": 0, "requests": 0, "stash": {}, "leaked": 0, "storage": 0}

    def write_stats():
        path = os.path.join(DIR, "proxy-stats.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"faults": state["served"], "requests": state["requests"], "leaked": state["leaked"], "storage": state["storage"]}, f)
        os.replace(path + ".tmp", path)

    def current_fault():
        try:
            with open(os.path.join(DIR, "fault.json")) as f:
                text = f.read()
        except FileNotFoundError:
            text = "{}"
        with lock:
            if text != state["text"]:
                state["text"], state["fault"], state["served"] = text, json.loads(text or "{}"), 0
            state["requests"] += 1
            write_stats()
            return state["fault"]

    def take(limit):
        with lock:
            if state["served"] < limit:
                state["served"] += 1
                write_stats()
                return True
            return False

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            length = self.headers.get("Content-Length")
            return self.rfile.read(int(length)) if length is not None else None

        def forward(self):
            fault = current_fault()
            body = self.read_body()
            kind = fault.get("kind")
            blob_get = self.command == "GET" and "/blobs/" in self.path and "/uploads/" not in self.path
            if self.path.startswith("/_storage/"):
                # The far end of a redirect: fetch what was asked with the credentials the
                # registry request had, and count the requests that brought their own.
                with lock:
                    path, authorization = state["stash"].get(self.path.split("?")[0], ("/", None))
                    state["storage"] += 1
                    if self.headers.get("Authorization"):
                        state["leaked"] += 1
                    write_stats()
                self.path = path
                if authorization:
                    del self.headers["Authorization"]
                    self.headers["Authorization"] = authorization
                blob_get = False
            elif blob_get and kind == "redirectBlob":
                with lock:
                    name = "/_storage/%d" % len(state["stash"])
                    state["stash"][name] = (self.path, self.headers.get("Authorization"))
                self.send_response(307)
                self.send_header("Location", "http://localhost:%d%s?signature=test" % (PORT, name))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if kind == "failFirst" and take(fault["count"]):
                payload = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "injected by the test proxy"}]}).encode()
                self.send_response(fault["status"])
                if fault.get("retryAfter") is not None:
                    self.send_header("Retry-After", str(fault["retryAfter"]))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                return
            if SCHEME == "https":
                connection = http.client.HTTPSConnection("127.0.0.1", UPSTREAM, context=ssl._create_unverified_context())
            else:
                connection = http.client.HTTPConnection("127.0.0.1", UPSTREAM)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            headers["X-Forwarded-Proto"] = "http"
            if body is not None:
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP:
                    self.send_header(name, value)
            length = response.getheader("Content-Length")
            if self.command == "HEAD" or response.status in (204, 304):
                if length is not None:
                    self.send_header("Content-Length", length)
                self.end_headers()
                connection.close()
                return
            if length is None:
                data = response.read()
                length = len(data)
                chunks = iter([data])
            else:
                length = int(length)
                chunks = iter(lambda: response.read(65536), b"")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if blob_get and response.status == 200 and kind == "cutBlob" and take(fault["count"]):
                left = fault["afterBytes"]
                for chunk in chunks:
                    if left <= 0:
                        break
                    self.wfile.write(chunk[:left])
                    left -= len(chunk)
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
                return
            first = True
            for chunk in chunks:
                if first and chunk and blob_get and response.status == 200 and kind == "tamperBlob":
                    chunk = bytes([chunk[0] ^ 0x01]) + chunk[1:]
                first = False
                self.wfile.write(chunk)
            connection.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True
    server.serve_forever()
    """#
}
