from __future__ import annotations

import logging
import threading
import warnings

import pytest

from ansible_collections.alicloud.ecs.plugins.module_utils import sdk
from ansible_collections.alicloud.ecs.plugins.plugin_utils import thread_warnings
from ansible_collections.alicloud.ecs.plugins.plugin_utils.thread_warnings import warning_texts, warnings_shown_after

SECRET = 'unit-secret-value-do-not-leak'
SOURCE = 'alicloud.ecs.enrich_hosts'


class InsecureRequestWarning(UserWarning):
    """Stands for urllib3's (a subclass of Warning, raised from the listing's threads)."""


class Display:
    def __init__(self):
        self.shown = []

    def warning(self, message):
        self.shown.append(('warning', message, threading.current_thread().name))

    def vvvv(self, message):
        self.shown.append(('vvvv', message, threading.current_thread().name))


class Connection:
    def __init__(self, own=()):
        self.own = list(own)

    def warnings(self):
        return list(self.own)

    def secrets(self):
        return [SECRET]


def in_threads(action, count=4):
    threads = [threading.Thread(target=action, name='listing-%d' % index) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def warn_from_a_thread():
    warnings.warn('Unverified HTTPS request is being made to host 127.0.0.1 with %s' % SECRET, InsecureRequestWarning)


def test_warnings_of_other_threads_are_shown_once_by_the_calling_thread(capsys):
    display = Display()
    with warnings.catch_warnings():
        warnings.simplefilter('always')  # every thread's warning reaches showwarning: deduplication is ours
        with warnings_shown_after(SOURCE, Connection(['validate_certs is false: ...']), display):
            in_threads(warn_from_a_thread)
    assert display.shown == [
        ('warning', '%s: validate_certs is false: ...' % SOURCE, 'MainThread'),
        ('warning', '%s: InsecureRequestWarning: Unverified HTTPS request is being made to host 127.0.0.1 with ********'
         % SOURCE, 'MainThread'),
    ]
    captured = capsys.readouterr()
    assert captured.out == captured.err == ''


def test_collected_warnings_are_shown_when_the_listing_fails_and_the_error_goes_on():
    display = Display()
    with pytest.raises(RuntimeError, match='listing failed'):
        with warnings_shown_after(SOURCE, Connection(), display):
            in_threads(warn_from_a_thread, 1)
            raise RuntimeError('listing failed')
    assert [kind for kind, _message, _thread in display.shown] == ['warning']


def test_warnings_the_user_ignores_stay_ignored_and_showwarning_is_restored():
    display = Display()
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', InsecureRequestWarning)
        with warnings_shown_after(SOURCE, Connection(), display):
            in_threads(warn_from_a_thread, 2)
    assert display.shown == []
    assert warnings.showwarning is before


def test_sdk_log_records_of_threads_are_shown_at_vvvv_by_the_calling_thread(capsys):
    assert hasattr(sdk, 'capture_sdk_logs'), 'module_utils/sdk.py keeps the SDK log records'
    display = Display()
    sdk.drain_sdk_logs()
    with warnings_shown_after(SOURCE, Connection(), display):
        in_threads(lambda: logging.getLogger('credentials').warning('Refresh credentials failed: %s', SECRET), 1)
    shown = [(kind, thread) for kind, _message, thread in display.shown]
    assert shown == [('vvvv', 'MainThread')]
    assert 'Refresh credentials failed' in display.shown[0][1] and SECRET not in display.shown[0][1]
    assert SECRET not in capsys.readouterr().err


def test_warning_texts_name_the_category_and_keep_each_text_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for dummy in range(3):
            warnings.warn('first', InsecureRequestWarning)
        warnings.warn('second', DeprecationWarning)
    assert warning_texts(caught) == ['InsecureRequestWarning: first', 'DeprecationWarning: second']


def test_without_the_sdk_log_capture_nothing_is_drained(monkeypatch):
    monkeypatch.delattr(sdk, 'drain_sdk_logs')
    assert thread_warnings._drain_sdk_logs() == []  # pylint: disable=protected-access
