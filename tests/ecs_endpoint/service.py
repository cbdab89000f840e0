"""LocalService: the HTTP(S) plumbing the local STS and instance-metadata endpoints share with EcsEndpoint.

It reuses the ECS endpoint's server and handler classes (TLS wrapping, strict framing, one dispatch path); a
subclass implements ``handle_api(handler, url, body)``. Every request is logged in ``calls``.
"""
from __future__ import annotations

import json
import shutil
import ssl
import sys
import tempfile
import threading
import time

from ecs_endpoint.errors import JSON_CONTENT_TYPE, new_request_id
from ecs_endpoint.server import _Handler, _Server  # pylint: disable=protected-access

# Inside a network namespace a test creates, the instance-metadata address is on the namespace's loopback.
ALLOWED_HOSTS = ('127.0.0.1', 'localhost', '100.100.100.200')


class LocalService:
    """Serve on ``host:port`` (HTTPS with a throw-away CA when ``tls``) in a daemon thread."""

    name = 'local-service'

    def __init__(self, tls=False, host='127.0.0.1', port=0, verbose=False):
        if host not in ALLOWED_HOSTS:
            raise ValueError('%s binds to loopback (or 100.100.100.200 inside a test network namespace) only' % self.name)
        self.tls = tls
        self.host = '127.0.0.1' if host == 'localhost' else host
        self._requested_port = port
        self.verbose = verbose
        self._lock = threading.Lock()
        self._calls = []
        self._httpd = None
        self._thread = None
        self._tmpdir = None
        self._ca_file = None

    def start(self):
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self._requested_port), _Handler)
        httpd.emulator = self
        if self.tls:
            from ecs_endpoint.tlscert import write_certificates  # pylint: disable=import-outside-toplevel
            self._tmpdir = tempfile.mkdtemp(prefix='%s-' % self.name)
            self._ca_file, cert, key = write_certificates(self._tmpdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert, key)
            httpd.ssl_context = context
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.02},
                                        name='%s-%d' % (self.name, self.port), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self._ca_file = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._requested_port

    @property
    def endpoint(self) -> str:
        """``HOST:PORT`` (the value for an endpoint option)."""
        return '%s:%d' % (self.host, self.port)

    @property
    def protocol(self) -> str:
        return 'https' if self.tls else 'http'

    @property
    def ca_file(self):
        """PEM CA certificate that signed the server certificate (TLS only)."""
        return self._ca_file

    @property
    def calls(self) -> list:
        """A copy of the request log: one dict per request (method, path, params, headers, status, code...)."""
        with self._lock:
            return [dict(call) for call in self._calls]

    def _log(self, **entry) -> dict:
        entry.setdefault('time', time.time())
        entry.setdefault('status', None)
        entry.setdefault('code', None)
        with self._lock:
            self._calls.append(entry)
        return entry

    def _finish(self, entry, status, code=None):
        with self._lock:
            entry['status'], entry['code'] = status, code

    # the _Handler interface --------------------------------------------------------------------------------
    def send(self, handler, status, body, content_type, request_id, headers=None, code=None):  # pylint: disable=unused-argument
        try:
            handler.send_response(status)
            handler.send_header('Content-Type', content_type)
            handler.send_header('Content-Length', str(len(body)))
            if request_id:
                handler.send_header('x-acs-request-id', request_id)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    def send_json(self, handler, status, doc, request_id=None):
        body = json.dumps(doc, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
        self.send(handler, status, body, JSON_CONTENT_TYPE, request_id)

    def handle_control(self, handler, url, body):  # pylint: disable=unused-argument
        self.send_json(handler, 404, {'error': 'no control API on %s' % self.name}, new_request_id())

    def handle_api(self, handler, url, body):
        raise NotImplementedError

    def log_error(self, text):
        if self.verbose:
            sys.stderr.write('%s: %s\n' % (self.name, text))
