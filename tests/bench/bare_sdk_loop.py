#!/usr/bin/env python
"""The best hand-written alternative to the module: a bare loop over DescribeTerminalSessions.

The same SDK as the module (alibabacloud-tea-openapi ``Client.call_api``), the same signed RPC call,
one page after the other until ``NextToken`` runs out, every record kept in a list. Nothing else: no
retries, no normalisation, no output but a line of figures. ``--page-size 0`` leaves ``MaxResults`` out,
so the API's default page size (10) applies: the naive loop.

Keys come from ``BENCH_ACCESS_KEY_ID``/``BENCH_ACCESS_KEY_SECRET``. Prints one JSON line: seconds spent
importing the SDK and in the loop, calls made, records read.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--endpoint', required=True)
    parser.add_argument('--protocol', default='https')
    parser.add_argument('--ca')
    parser.add_argument('--region', required=True)
    parser.add_argument('--page-size', type=int, default=100)
    args = parser.parse_args()

    started = time.perf_counter()
    from alibabacloud_tea_openapi.client import Client
    from alibabacloud_tea_openapi import utils_models as models
    from darabonba.runtime import RuntimeOptions
    imported = time.perf_counter()

    client = Client(models.Config(endpoint=args.endpoint, protocol=args.protocol, ca=args.ca,
                                  access_key_id=os.environ['BENCH_ACCESS_KEY_ID'],
                                  access_key_secret=os.environ['BENCH_ACCESS_KEY_SECRET']))
    params = models.Params(action='DescribeTerminalSessions', version='2014-05-26', protocol=args.protocol.upper(), method='POST',
                           auth_type='AK', style='RPC', pathname='/', req_body_type='json', body_type='json')
    runtime = RuntimeOptions()
    sessions, token, calls = [], None, 0
    while True:
        query = {'RegionId': args.region}
        if args.page_size:
            query['MaxResults'] = str(args.page_size)
        if token:
            query['NextToken'] = token
        body = client.call_api(params, models.OpenApiRequest(query=query), runtime)['body']
        calls += 1
        sessions.extend((body.get('Sessions') or {}).get('Session') or [])
        token = body.get('NextToken')
        if not token:
            break
    finished = time.perf_counter()
    print(json.dumps({'import_seconds': imported - started, 'loop_seconds': finished - imported, 'calls': calls,
                      'sessions': len(sessions), 'unique_sessions': len(set(s['SessionId'] for s in sessions))}))


if __name__ == '__main__':
    main()
