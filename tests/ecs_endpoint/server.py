"""EcsEndpoint: a strict local stand-in for the ECS RPC endpoint serving DescribeTerminalSessions."""
from __future__ import annotations

import copy
import datetime
import json
import re
import select
import shutil
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from ecs_endpoint import auth
from ecs_endpoint.assistant_settings import ACTIONS as ASSISTANT_ACTIONS, AssistantSettings
from ecs_endpoint.data import TIME_FORMAT, make_sessions, public_view, session_matches
from ecs_endpoint.errors import JSON_CONTENT_TYPE, XML_CONTENT_TYPE, ApiError, new_request_id, xml_error
from ecs_endpoint.faults import ACCESS_DENIED_DETAIL, FaultPlan
from ecs_endpoint.tokens import TokenIssuer

ACTION = 'DescribeTerminalSessions'
END_ACTION = 'EndTerminalSession'
ACTIVE_STATUSES = ('Connecting', 'Connected', 'Terminating')
VERSION = '2014-05-26'
DEFAULT_ACCESS_KEY_ID = 'LTAItestkey0000000000001'
DEFAULT_ACCESS_KEY_SECRET = 'test-secret-value-do-not-leak'
DEFAULT_MAX_RESULTS = 10
LOOPBACK_HOSTS = ('127.0.0.1', 'localhost')
HTML_502 = (b'<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n'
            b'<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    ssl_context = None
    emulator = None

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if self.emulator is not None and self.emulator.verbose:
            traceback.print_exc(file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'Tengine'
    sys_version = ''
    timeout = 60
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.emulator.verbose:
            sys.stderr.write('ecs_endpoint: %s\n' % (format % args))

    def _dispatch(self):
        length = self.headers.get('Content-Length')
        if self.headers.get('Transfer-Encoding'):
            self.close_connection = True
            self.server.emulator.send(self, 411, b'', 'text/plain', new_request_id())
            return
        try:
            body = self.rfile.read(int(length)) if length else b''
        except ValueError:
            self.close_connection = True
            self.server.emulator.send(self, 400, b'', 'text/plain', new_request_id())
            return
        url = urlsplit(self.path)
        if url.path.startswith('/_emulator/'):
            self.server.emulator.handle_control(self, url, body)
        else:
            self.server.emulator.handle_api(self, url, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


class EcsEndpoint:
    """Serve DescribeTerminalSessions for ``regions`` (region ID -> list of session dicts, newest first).

    ``credentials``: access key ID -> {"secret": str, "security_token": str|None, "expired": bool}.
    ``faults``: initial fault settings (see ``ecs_endpoint.faults.DEFAULTS``).
    """

    def __init__(self, regions, credentials=None, tls=False, host='127.0.0.1', port=0, faults=None,
                 last_page_token_style='absent', max_clock_skew_seconds=900, max_logged_requests=10000, verbose=False):
        if host not in LOOPBACK_HOSTS:
            raise ValueError('EcsEndpoint binds to loopback only (127.0.0.1)')
        if last_page_token_style not in ('absent', 'empty'):
            raise ValueError('last_page_token_style must be "absent" or "empty"')
        self._lock = threading.Lock()
        # Notified whenever a trickled answer ends (see wait_for_trickles).
        self._trickle_ended = threading.Condition(self._lock)
        self._regions = {region: list(sessions) for region, sessions in regions.items()}
        self._serial = {region: len(sessions) for region, sessions in regions.items()}
        if credentials is None:
            credentials = {DEFAULT_ACCESS_KEY_ID: {'secret': DEFAULT_ACCESS_KEY_SECRET, 'security_token': None}}
        self.credentials = credentials
        self.tls = tls
        self.host = '127.0.0.1' if host == 'localhost' else host
        self._requested_port = port
        self.last_page_token_style = last_page_token_style
        self.max_logged_requests = max_logged_requests
        self.verbose = verbose
        self._auth = auth.Authenticator(credentials, max_skew_seconds=max_clock_skew_seconds)
        self._faults = FaultPlan(faults)
        self._tokens = TokenIssuer()
        # Cloud Assistant settings (Session Manager posture) of the one account: see assistant_settings.py.
        self.assistant = AssistantSettings(regions)
        self._stop_event = threading.Event()
        self._httpd = None
        self._thread = None
        self._tmpdir = None
        self._ca_file = None
        self._in_flight = 0
        self._stats = None
        self.reset_stats()

    # lifecycle -----------------------------------------------------------------------------------------------
    def start(self):
        """Bind, then serve in a daemon thread. Returns self."""
        if self._httpd is not None:
            return self
        self._stop_event.clear()
        httpd = _Server((self.host, self._requested_port), _Handler)
        httpd.emulator = self
        if self.tls:
            from ecs_endpoint.tlscert import write_certificates  # pylint: disable=import-outside-toplevel
            self._tmpdir = tempfile.mkdtemp(prefix='ecs-endpoint-')
            self._ca_file, cert, key = write_certificates(self._tmpdir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert, key)
            httpd.ssl_context = context
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.02},
                                        name='ecs-endpoint-%d' % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving, release hung requests and remove the temporary certificates."""
        self._stop_event.set()
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
        """Listening port (after start)."""
        return self._httpd.server_address[1] if self._httpd else self._requested_port

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``, the value for ``Config.endpoint``."""
        return '%s:%d' % (self.host, self.port)

    @property
    def protocol(self) -> str:
        """``https`` when TLS is on, else ``http``."""
        return 'https' if self.tls else 'http'

    @property
    def ca_file(self):
        """Path of the PEM CA certificate that signed the server certificate (TLS only)."""
        return self._ca_file

    # runtime control -----------------------------------------------------------------------------------------
    def set_faults(self, **settings) -> dict:
        """Replace all fault settings (unspecified keys return to defaults; call numbers restart at 1)."""
        return self._faults.replace(settings)

    def reset_faults(self) -> dict:
        """Turn every fault off."""
        return self._faults.replace({})

    def faults(self) -> dict:
        """Current fault settings."""
        return self._faults.config()

    def stats(self) -> dict:
        """Deep-copied snapshot of the counters and the request log."""
        with self._lock:
            return copy.deepcopy(self._stats)

    def reset_stats(self):
        """Zero every counter and clear the request log."""
        with self._lock:
            self._stats = {'calls': 0, 'ok': 0, 'by_code': {}, 'faults_injected': {}, 'max_concurrency': 0,
                           'auth_failures': 0, 'requests': [], 'end_calls': 0, 'ended': [], 'trickles': []}

    def wait_for_trickles(self, timeout, started=None) -> list:
        """Wait (at most ``timeout`` seconds) until no trickled answer is still being sent; returns their records.

        With ``started``, wait instead until that many trickled answers have started. Each record: ``length`` of
        the body, bytes ``sent`` and ``outcome`` - None while sending, then ``completed``, ``client_closed`` (the
        client went away first), ``bounded`` (trickle_max_seconds passed) or ``stopped`` (the endpoint stopped).
        """
        def waiting(records):
            if started is not None:
                return len(records) < started
            return any(record['outcome'] is None for record in records)

        ends = time.monotonic() + timeout
        with self._trickle_ended:
            while waiting(self._stats['trickles']):
                left = ends - time.monotonic()
                if left <= 0:
                    break
                self._trickle_ended.wait(left)
            return copy.deepcopy(self._stats['trickles'])

    def add_sessions(self, region, sessions, at_head=True):
        """Insert sessions (newest first) at the head (newer than all) or the tail of a region."""
        with self._lock:
            current = self._regions.get(region, [])
            self._regions[region] = list(sessions) + current if at_head else current + list(sessions)
            self._serial[region] = self._serial.get(region, 0) + len(sessions)

    def generate_sessions(self, region, count, at_head=True, seed=0):
        """Make ``count`` new seeded sessions with fresh IDs and add them; returns their SessionIds."""
        with self._lock:
            current = self._regions.get(region, [])
            first_index = self._serial.get(region, 0)
            instances = sorted({t for s in current for t in s.get('_targets', [])}) or None
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        if current:
            edge = datetime.datetime.strptime(current[0 if at_head else -1]['CreationTime'], TIME_FORMAT)
            edge = edge.replace(tzinfo=datetime.timezone.utc)
            start = max(now, edge + datetime.timedelta(minutes=1)) if at_head else edge - datetime.timedelta(minutes=1)
        else:
            start = now
        sessions = make_sessions(region, count, instance_ids=instances, seed=seed, start=start, first_index=first_index)
        self.add_sessions(region, sessions, at_head=at_head)
        return [s['SessionId'] for s in sessions]

    def sessions(self, region):
        """Public view of every session of a region, in server order."""
        with self._lock:
            current = self._regions.get(region, [])
        return [public_view(s) for s in current]

    # HTTP plumbing -------------------------------------------------------------------------------------------
    def send(self, handler, status, body, content_type, request_id, headers=None, code=None):
        """Write one complete response (logged first, so the log is final once the client has it)."""
        self._record(handler, status, code)
        try:
            handler.send_response(status)
            handler.send_header('Content-Type', content_type)
            handler.send_header('Content-Length', str(len(body)))
            handler.send_header('x-acs-request-id', request_id)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True

    def _send_json(self, handler, status, doc, request_id, headers=None, code=None):
        body = json.dumps(doc, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
        self.send(handler, status, body, JSON_CONTENT_TYPE, request_id, headers, code)

    def _record(self, handler, status, code):
        entry = getattr(handler, 'ecs_log_entry', None)
        if entry is not None:
            with self._lock:
                entry['status'], entry['code'] = status, code

    def _count(self, bucket, key):
        with self._lock:
            self._stats[bucket][key] = self._stats[bucket].get(key, 0) + 1

    def _log(self, handler, url, query, body, request_id):
        entry = {
            'time': time.time(),
            'request_id': request_id,
            'method': handler.command,
            'path': url.path,
            'raw_path': handler.path,
            'query': query,
            'headers': {k: ', '.join(handler.headers.get_all(k)) for k in dict.fromkeys(handler.headers.keys())},
            'body': body.decode('utf-8', 'replace'),
            'status': None,
            'code': None,
        }
        with self._lock:
            if len(self._stats['requests']) < self.max_logged_requests:
                self._stats['requests'].append(entry)
            self._in_flight += 1
            self._stats['max_concurrency'] = max(self._stats['max_concurrency'], self._in_flight)
        return entry

    @staticmethod
    def _abort_connection(handler):
        handler.close_connection = True
        try:
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass

    def handle_api(self, handler, url, body):
        """Answer one API request (any path other than /_emulator/...)."""
        request_id = new_request_id()
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        params = {}
        if (handler.headers.get('Content-Type') or '').startswith('application/x-www-form-urlencoded'):
            params.update(parse_qsl(body.decode('utf-8', 'replace'), keep_blank_values=True))
        params.update(query)
        headers = {}
        for name, value in handler.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        handler.ecs_log_entry = self._log(handler, url, query, body, request_id)
        try:
            self._answer(handler, url, query, params, headers, body, request_id)
        except ApiError as err:
            self._count('by_code', err.code)
            self._send_json(handler, err.status, err.body(request_id, handler.headers.get('Host') or self.endpoint),
                            request_id, err.headers, err.code)
        except Exception:  # pylint: disable=broad-except
            traceback.print_exc(file=sys.stderr)
            self._count('by_code', 'InternalError')
            self._send_json(handler, 500, ApiError('InternalError').body(request_id, self.endpoint), request_id, code='InternalError')
        finally:
            handler.ecs_log_entry = None
            with self._lock:
                self._in_flight -= 1

    def _answer(self, handler, url, query, params, headers, body, request_id):
        if url.path != '/' or handler.command not in ('GET', 'POST'):
            raise ApiError('InvalidAction.NotFound')
        _style, action, version = auth.detect(headers, params)
        if not action:
            raise ApiError('MissingParameter', 'Action')
        if action not in (ACTION, END_ACTION) + ASSISTANT_ACTIONS:
            raise ApiError('InvalidAction.NotFound')
        if not version:
            raise ApiError('MissingParameter', 'Version')
        if version != VERSION:
            raise ApiError('InvalidVersion')
        if action == END_ACTION:
            self._end_session(handler, url, query, params, headers, body, request_id)
            return
        if action in ASSISTANT_ACTIONS:
            self._assistant_settings(handler, url, query, params, headers, body, request_id, action)
            return
        with self._lock:
            self._stats['calls'] += 1
        plan = self._faults.begin_call(params.get('RegionId'))
        if plan.reset:
            self._count('faults_injected', 'reset_connection')
            self._record(handler, None, 'ConnectionReset')
            self._abort_connection(handler)
            return
        if plan.hang_seconds:
            self._count('faults_injected', 'hang')
            self._stop_event.wait(plan.hang_seconds)
        if plan.latency_seconds:
            self._stop_event.wait(plan.latency_seconds)
        if plan.redirect is not None:
            # Before any check, as a proxy or a spoofed endpoint would answer.
            status, location = plan.redirect
            self._count('faults_injected', 'redirect')
            handler.close_connection = True
            self.send(handler, status, b'{"Moved":true}', JSON_CONTENT_TYPE, request_id, headers={'Location': location},
                      code='redirect.%d' % status)
            return
        self._verify(handler, url, query, params, headers, body)
        if plan.error is not None:
            self._count('faults_injected', plan.fault_name)
            raise plan.error
        host_id = handler.headers.get('Host') or self.endpoint
        if plan.malformed == 'html_502':
            self._count('faults_injected', 'malformed.html_502')
            self.send(handler, 502, HTML_502, 'text/html', request_id, code='malformed.html_502')
            return
        if plan.malformed == 'xml_error':
            self._count('faults_injected', 'malformed.xml_error')
            err = ApiError('InternalError')
            payload = xml_error(err.code, err.message, request_id, host_id).encode('utf-8')
            self.send(handler, err.status, payload, XML_CONTENT_TYPE, request_id, code='malformed.xml_error')
            return
        doc = self._describe(params, plan, request_id)
        payload = json.dumps(doc, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
        if plan.malformed == 'truncated_json':
            self._count('faults_injected', 'malformed.truncated_json')
            self.send(handler, 200, payload[:len(payload) // 2], JSON_CONTENT_TYPE, request_id, code='malformed.truncated_json')
            return
        if plan.trickle is not None:
            self._count('faults_injected', 'trickle')
            self._trickle(handler, payload, request_id, *plan.trickle)
            return
        with self._lock:
            self._stats['ok'] += 1
        self.send(handler, 200, payload, JSON_CONTENT_TYPE, request_id)

    def _trickle(self, handler, payload, request_id, rate, max_seconds):
        """Send the headers of a 200 at once, then ``payload`` ``rate`` bytes a second.

        Ends when the body is sent, when the client goes away (its socket turns readable: end of file), when the
        endpoint stops, or after ``max_seconds`` (the connection is then cut): the endpoint always stops by itself.
        """
        record = {'length': len(payload), 'sent': 0, 'outcome': None}
        with self._trickle_ended:
            self._stats['trickles'].append(record)
            self._trickle_ended.notify_all()
        self._record(handler, 200, 'trickle')
        step = max(1, int(rate / 10))  # at most ten writes a second
        interval = step / rate
        ends = time.monotonic() + max_seconds
        outcome, sent = 'completed', 0
        try:
            handler.send_response(200)
            handler.send_header('Content-Type', JSON_CONTENT_TYPE)
            handler.send_header('Content-Length', str(len(payload)))
            handler.send_header('x-acs-request-id', request_id)
            handler.end_headers()
            handler.wfile.flush()
            while sent < len(payload):
                left = ends - time.monotonic()
                if self._stop_event.is_set() or left <= 0:
                    outcome = 'stopped' if self._stop_event.is_set() else 'bounded'
                    break
                readable = select.select([handler.connection], [], [], min(interval, left))[0]
                if readable:
                    outcome = 'client_closed'
                    break
                handler.wfile.write(payload[sent:sent + step])
                handler.wfile.flush()
                sent += len(payload[sent:sent + step])
        except OSError:
            outcome = 'client_closed'
        if outcome != 'completed':
            self._abort_connection(handler)
        with self._trickle_ended:
            record.update(sent=sent, outcome=outcome)
            self._trickle_ended.notify_all()

    def _verify(self, handler, url, query, params, headers, body):
        """Check the request's signature and credentials, counting failures."""
        try:
            self._auth.verify(handler.command, url.path, query, params, headers, body)
        except ApiError:
            with self._lock:
                self._stats['auth_failures'] += 1
            raise

    def _assistant_settings(self, handler, url, query, params, headers, body, request_id, action):
        """Describe/ModifyCloudAssistantSettings: signature first, then the retryable faults, then the state."""
        self._verify(handler, url, query, params, headers, body)
        plan = self._faults.begin_call(params.get('RegionId'))
        if plan.error is not None and plan.fault_name in ('throttle', 'unavailable', 'error_rate', 'rate_limit'):
            self._count('faults_injected', plan.fault_name)
            raise plan.error
        doc = self.assistant.answer(action, params, request_id)
        with self._lock:
            self._stats['ok'] += 1
        self._send_json(handler, 200, doc, request_id)

    def _end_session(self, handler, url, query, params, headers, body, request_id):
        """EndTerminalSession: every open connection of the session becomes Terminated."""
        with self._lock:
            self._stats['end_calls'] += 1
        self._verify(handler, url, query, params, headers, body)
        faults = self._faults.config()
        if faults['end_forbidden']:
            detail = dict(ACCESS_DENIED_DETAIL, AuthAction='ecs:' + END_ACTION)
            raise ApiError('Forbidden.RAM', extra={'AccessDeniedDetail': detail})
        region, session_id = params.get('RegionId'), params.get('SessionId')
        if not region:
            raise ApiError('MissingParameter', 'RegionId')
        if not session_id:
            raise ApiError('MissingParameter', 'SessionId')
        if session_id in (faults['end_failing_sessions'] or ()):
            raise ApiError('InternalError')
        now = datetime.datetime.now(datetime.timezone.utc).strftime(TIME_FORMAT)
        with self._lock:
            sessions = self._regions.get(region)
            if sessions is None:
                raise ApiError('InvalidRegionId.NotFound')
            for index, session in enumerate(sessions):
                if session['SessionId'] == session_id:
                    ended = copy.deepcopy(session)
                    for conn in (ended.get('Connections') or {}).get('Connection', []):
                        if conn.get('Status') in ACTIVE_STATUSES:
                            conn.update(Status='Terminated', EndTime=now, ClosedReason='SessionTerminated')
                    sessions[index] = ended
                    self._stats['ended'].append(session_id)
                    break
            else:
                raise ApiError('InvalidSessionId.NotFound')
            self._stats['ok'] += 1
        self._send_json(handler, 200, {'RequestId': request_id}, request_id)

    def _describe(self, params, plan, request_id):
        region = params.get('RegionId')
        if not region:
            raise ApiError('MissingParameter', 'RegionId')
        with self._lock:
            sessions = self._regions.get(region)
        if sessions is None:
            raise ApiError('InvalidRegionId.NotFound')
        raw = params.get('MaxResults')
        if raw is None:
            max_results = DEFAULT_MAX_RESULTS
        elif re.fullmatch('[0-9]{1,9}', raw) and 1 <= int(raw) <= 100:
            max_results = int(raw)
        else:
            raise ApiError('InvalidParameter.MaxResults')
        instance_id = params.get('InstanceId') or ''
        session_id = params.get('SessionId') or ''
        binding = (region, instance_id, session_id, max_results)
        token = params.get('NextToken') or ''
        offset = 0
        if token:
            try:
                offset = self._tokens.resolve(token, binding)
            except ValueError as exc:
                raise ApiError('InvalidParameter.NextToken') from exc
        matched = [s for s in sessions if session_matches(s, instance_id, session_id)]
        if plan.empty_first_page and not token:
            self._count('faults_injected', 'empty_page_with_token')
            page, next_offset = [], 0
        else:
            page = matched[offset:offset + max_results]
            next_offset = offset + max_results if offset + max_results < len(matched) else None
        if plan.endless_tokens and not (token and plan.token_loop):
            self._count('faults_injected', 'endless_tokens')
            next_token = self._tokens.issue(binding, offset + max_results)
        elif token and plan.token_loop == 'same':
            self._count('faults_injected', 'token_loop')
            next_token = token
        elif token and plan.token_loop == 'cycle':
            self._count('faults_injected', 'token_loop')
            next_token = self._tokens.issue(binding, max_results if offset >= 2 * max_results else offset + max_results)
        else:
            next_token = self._tokens.issue(binding, next_offset) if next_offset is not None else None
        doc = {'RequestId': request_id}
        if next_token is not None:
            doc['NextToken'] = next_token
        elif (plan.last_page_token_style or self.last_page_token_style) == 'empty':
            doc['NextToken'] = ''
        doc['Sessions'] = {'Session': [public_view(s) for s in page]}
        return doc

    # control API (loopback, unauthenticated) ---------------------------------------------------------------
    def handle_control(self, handler, url, body):
        """``GET /_emulator/stats``, ``GET|POST /_emulator/faults``, ``POST /_emulator/reset``, ``POST /_emulator/sessions``."""
        request_id = new_request_id()
        route = (handler.command, url.path.rstrip('/'))
        try:
            data = json.loads(body.decode('utf-8')) if body.strip() else {}
            if route == ('GET', '/_emulator/stats'):
                doc = self.stats()
                if dict(parse_qsl(url.query)).get('requests') == '0':
                    doc.pop('requests')
            elif route == ('GET', '/_emulator/faults'):
                doc = {'faults': self.faults()}
            elif route == ('POST', '/_emulator/faults'):
                if not isinstance(data, dict):
                    raise ValueError('fault settings must be a JSON object')
                doc = {'faults': self.set_faults(**data)}
            elif route == ('POST', '/_emulator/reset'):
                doc = {'faults': self.reset_faults()}
                self.reset_stats()
            elif route == ('POST', '/_emulator/sessions'):
                ids = self.generate_sessions(data['region'], int(data.get('count', 1)), at_head=bool(data.get('at_head', True)),
                                             seed=int(data.get('seed', 0)))
                doc = {'added': ids}
            else:
                self._send_json(handler, 404, {'error': 'unknown control path %s %s' % route}, request_id)
                return
        except (ValueError, KeyError, TypeError) as exc:
            self._send_json(handler, 400, {'error': str(exc)}, request_id)
            return
        self._send_json(handler, 200, doc, request_id)
