"""POP-style API errors: codes, HTTP statuses, messages and the JSON error body."""
from __future__ import annotations

import uuid

JSON_CONTENT_TYPE = 'application/json;charset=utf-8'
XML_CONTENT_TYPE = 'text/xml;charset=utf-8'

# code -> (HTTP status, message)
CATALOG = {
    'MissingParameter': (400, 'The input parameter "%s" that is mandatory for processing this request is not supplied.'),
    'InvalidParameter': (400, 'The specified parameter "%s" is not valid.'),
    'InvalidParameter.MaxResults': (400, 'The specified parameter MaxResults is not valid.'),
    'InvalidParameter.NextToken': (400, 'The specified parameter NextToken is not valid.'),
    'InvalidRegionId.NotFound': (404, 'The specified parameter RegionId does not exist.'),
    'InvalidAction.NotFound': (404, 'Specified api is not found, please check your url and method.'),
    'InvalidVersion': (400, 'Specified parameter Version is not valid.'),
    'InternalError': (500, 'An error occurred when you dispatched the request.'),
    'ServiceUnavailable': (503, 'The request has failed due to a temporary failure of the server.'),
    'Throttling.User': (400, 'Request was denied due to user flow control.'),
    'Throttling': (400, 'Request was denied due to request throttling.'),
    'Throttling.Api': (400, 'Request was denied due to api flow control.'),
    'Forbidden.RAM': (403, "User not authorized to operate on the specified resource, or this API doesn't support RAM."),
    'IncompleteSignature': (400, 'The request signature does not conform to Aliyun standards. %s'),
    'SignatureDoesNotMatch': (400, 'Specified signature is not matched with our calculation. server string to sign is:%s'),
    'InvalidAccessKeyId.NotFound': (404, 'Specified access key is not found.'),
    'InvalidTimeStamp.Expired': (400, 'Specified time stamp or date value is expired.'),
    'InvalidTimeStamp.Format': (400, 'Specified time stamp or date value is not well formatted.'),
    'SignatureNonceUsed': (400, 'Specified signature nonce was used already.'),
    'InvalidSecurityToken.MismatchWithAccessKey': (400, 'Specified SecurityToken mismatch with the AccessKey.'),
    'InvalidSecurityToken.Expired': (400, 'Specified SecurityToken is expired.'),
    'InvalidSessionId.NotFound': (404, 'The specified session does not exist.'),
}


def new_request_id() -> str:
    """Fresh request ID, upper-case UUID4 like the real service."""
    return str(uuid.uuid4()).upper()


class ApiError(Exception):
    """An error answer: HTTP status, code, message, extra body fields and extra headers."""

    def __init__(self, code, detail=None, status=None, message=None, extra=None, headers=None):
        default_status, template = CATALOG.get(code, (400, code))
        if message is None:
            message = template % detail if '%s' in template else template
        super().__init__('%s: %s' % (code, message))
        self.code = code
        self.status = status or default_status
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self, request_id: str, host_id: str) -> dict:
        """The JSON error document the real gateway returns."""
        doc = {
            'RequestId': request_id,
            'HostId': host_id,
            'Code': self.code,
            'Message': self.message,
            'Recommend': 'https://api.aliyun.com/troubleshoot?q=%s&product=Ecs&requestId=%s' % (self.code, request_id),
        }
        doc.update(self.extra)
        return doc


def xml_error(code: str, message: str, request_id: str, host_id: str) -> str:
    """XML error body (``<Error>``) as some gateways answer."""
    def esc(text):
        return str(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>%s</RequestId><HostId>%s</HostId></Error>' % (esc(code), esc(message), esc(request_id), esc(host_id)))
