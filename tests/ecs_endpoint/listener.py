"""RecordingListener: the target of a redirect, recording whatever arrives (a request, a TLS hello, a token)."""
from __future__ import annotations

import socket
import threading

LOOPBACK_PREFIX = '127.'


class RecordingListener:
    """A TCP listener on a loopback address that keeps every byte any client sends it.

    It answers an HTTP request with ``200 {}`` (as a harvesting server would, so a client that
    followed a redirect finishes its call) and closes. ``connections`` counts the clients that
    connected; ``received`` holds what each sent. Use another loopback address than the endpoint's
    (127.0.0.2) to stand for another host.
    """

    def __init__(self, host='127.0.0.2', port=0, read_timeout=5.0):
        if not host.startswith(LOOPBACK_PREFIX):
            raise ValueError('RecordingListener binds to loopback only')
        self.host = host
        self._requested_port = port
        self.read_timeout = read_timeout
        self._lock = threading.Lock()
        self._received = []
        self._sock = None
        self._threads = []
        self._accepting = None

    def start(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        sock.listen(16)
        self._sock = sock
        self._accepting = threading.Thread(target=self._accept, name='recording-listener', daemon=True)
        self._accepting.start()
        return self

    def stop(self):
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
            self._accepting.join(5)
            self._sock = None
        for thread in self._threads:
            thread.join(self.read_timeout + 1)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def url(self, path='/', scheme='http') -> str:
        return '%s://%s:%d%s' % (scheme, self.host, self.port, path)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._received)

    @property
    def received(self) -> list:
        """The bytes each client sent, in the order they connected."""
        with self._lock:
            return [bytes(data) for data in self._received]

    def _accept(self):
        while True:
            try:
                client, _address = self._sock.accept()
            except OSError:
                return
            with self._lock:
                data = bytearray()
                self._received.append(data)
            thread = threading.Thread(target=self._serve, args=(client, data), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client, data):
        client.settimeout(self.read_timeout)
        try:
            while b'\r\n\r\n' not in data:
                chunk = client.recv(65536)
                if not chunk:
                    break
                with self._lock:
                    data.extend(chunk)
            if data.startswith((b'GET ', b'POST ', b'PUT ', b'HEAD ', b'DELETE ')):
                client.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\n'
                               b'Content-Length: 2\r\nConnection: close\r\n\r\n{}')
        except OSError:
            pass
        finally:
            client.close()
