"""CLI: run EcsEndpoint until SIGTERM/SIGINT, publishing a JSON state file once listening."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading

from ecs_endpoint.data import default_instance_ids, make_sessions
from ecs_endpoint.server import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, EcsEndpoint


def parse_regions(spec: str) -> dict:
    """``cn-hangzhou=250,cn-shanghai=120`` -> {region: count}."""
    regions = {}
    for item in filter(None, (part.strip() for part in spec.split(','))):
        name, sep, count = item.partition('=')
        if not sep or not name or not count.isdigit():
            raise argparse.ArgumentTypeError('expected REGION=COUNT[,REGION=COUNT...], got %r' % item)
        regions[name] = int(count)
    if not regions:
        raise argparse.ArgumentTypeError('no regions given')
    return regions


def write_state(path: str, state: dict):
    """Write ``state`` as JSON atomically (temp file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(prefix='.ecs-endpoint-state-', dir=folder)
    with os.fdopen(handle, 'w') as stream:
        json.dump(state, stream)
    os.replace(tmp, path)


def build_parser():
    parser = argparse.ArgumentParser(prog='python -m ecs_endpoint', description=__doc__)
    parser.add_argument('--regions', type=parse_regions, default=parse_regions('cn-hangzhou=250'))
    parser.add_argument('--instances-per-region', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--start', help='newest CreationTime, YYYY-MM-DDTHH:MM:SSZ (default: now)')
    parser.add_argument('--tls', action='store_true')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--state-file')
    parser.add_argument('--access-key-id', default=DEFAULT_ACCESS_KEY_ID)
    parser.add_argument('--access-key-secret', default=os.environ.get('ECS_ENDPOINT_ACCESS_KEY_SECRET', DEFAULT_ACCESS_KEY_SECRET),
                        help='default: $ECS_ENDPOINT_ACCESS_KEY_SECRET or the built-in test secret')
    parser.add_argument('--security-token', default=os.environ.get('ECS_ENDPOINT_SECURITY_TOKEN'))
    parser.add_argument('--last-page-token-style', choices=('absent', 'empty'), default='absent')
    parser.add_argument('--faults', type=json.loads, default=None, help='initial fault settings as a JSON object')
    parser.add_argument('--verbose', action='store_true')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    regions = {
        name: make_sessions(name, count, default_instance_ids(name, args.instances_per_region), seed=args.seed, start=args.start)
        for name, count in args.regions.items()
    }
    credentials = {args.access_key_id: {'secret': args.access_key_secret, 'security_token': args.security_token}}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *args: stop.set())
    signal.signal(signal.SIGINT, lambda *args: stop.set())
    endpoint = EcsEndpoint(regions, credentials=credentials, tls=args.tls, port=args.port, faults=args.faults,
                           last_page_token_style=args.last_page_token_style, verbose=args.verbose)
    endpoint.start()
    try:
        if args.state_file:
            write_state(args.state_file, {'endpoint': endpoint.endpoint, 'protocol': endpoint.protocol, 'ca_file': endpoint.ca_file,
                                          'pid': os.getpid(), 'access_key_id': args.access_key_id})
        sys.stdout.write('%s\n' % endpoint.endpoint)
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        endpoint.stop()
        if args.state_file and os.path.exists(args.state_file):
            os.unlink(args.state_file)
    return 0


if __name__ == '__main__':
    sys.exit(main())
