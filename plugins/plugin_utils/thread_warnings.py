# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a listing has to say, shown by the thread that asked for it (controller side only).

The listing runs its queries in worker threads (module_utils/listing.py). Nothing may print from
those threads: inside a forked Ansible worker on ansible-core 2.16-2.18, Display makes every write
to stdout and stderr take its lock, and the worker is forked while that lock is held
(``WorkerProcess.start``), so in the worker the lock belongs for ever to the main thread. A write
from any other thread - ``warnings.showwarning`` for urllib3's InsecureRequestWarning, or logging's
last-resort handler for an SDK log record - waits for it for ever, the main thread waits for the
pool, and the play hangs. So the warnings of the threads are collected while the listing runs and
shown afterwards by the calling thread through Display (which a worker sends to the controller),
each once; the SDK's log records are kept by the handler of module_utils/sdk.py and shown at -vvvv.

The collection's own warnings about the options (``protocol: http``, ``validate_certs: false``),
which the modules show, are shown here as well, before the listing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import warnings

from ansible.utils.display import Display

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.module_utils.errors import scrub


def warning_texts(records):
    """``Category: message`` for each of the ``warnings.WarningMessage`` records, each text once, in order."""
    texts = []
    for record in records:
        text = '%s: %s' % (getattr(record.category, '__name__', 'Warning'), record.message)
        if text not in texts:
            texts.append(text)
    return texts


def _drain_sdk_logs():
    """The SDK's log records kept since the last call (already scrubbed), if module_utils/sdk.py keeps them."""
    drain = getattr(sdk, 'drain_sdk_logs', None)
    return list(drain()) if drain is not None else []


@contextlib.contextmanager
def warnings_shown_after(source, connection, display=None):
    """Run the block (a listing through ``connection``) with the warnings of every thread collected, then show them.

    ``source`` names the plugin in each message (``alicloud.ecs.enrich_hosts``). The options' own warnings
    are shown first; the collected ones after the block, also when it fails, without any secret of
    ``connection``. Warnings the user's filters ignore stay ignored; one they turn into errors still raises.
    """
    display = Display() if display is None else display
    secrets = connection.secrets()
    for text in connection.warnings():
        display.warning('%s: %s' % (source, text))
    capture = getattr(sdk, 'capture_sdk_logs', None)
    if capture is not None:
        capture()  # installs, once, the handler that keeps the SDK's log records instead of printing them
    caught = []
    try:
        # catch_warnings swaps process-wide state, so it is entered and left here, in the calling thread only;
        # while it is in force every thread's warning is appended to ``caught`` instead of being printed.
        with warnings.catch_warnings(record=True) as caught:
            yield
    finally:
        for text in warning_texts(caught):
            display.warning('%s: %s' % (source, scrub(text, secrets)))
        for text in _drain_sdk_logs():
            display.vvvv('%s: %s' % (source, scrub(text, secrets)))
