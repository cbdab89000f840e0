# -*- coding: utf-8 -*-
# Copyright: alicloud.ecs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment:
    """Connection and credential options shared by every alicloud.ecs module and plugin."""

    # The modules' variant: modules take no ``env`` entries, so the descriptions name the variables read.
    DOCUMENTATION = r'''
options:
  access_key_id:
    description:
      - Alibaba Cloud AccessKey ID.
      - When not given, the first set of E(ALIBABA_CLOUD_ACCESS_KEY_ID), E(ALICLOUD_ACCESS_KEY) and
        E(ALICLOUD_ACCESS_KEY_ID) is used.
      - An ID with white space or characters other than letters, digits, C(.), C(-) and C(_) (a newline read from a
        file, a list given for a string) is refused before any call.
      - Credentials are looked up in this order - options of the task, then environment variables,
        then the SDK's default credential chain, in the SDK's order - OIDC of ACK RRSA when
        E(ALIBABA_CLOUD_ROLE_ARN), E(ALIBABA_CLOUD_OIDC_PROVIDER_ARN) and E(ALIBABA_CLOUD_OIDC_TOKEN_FILE) are all set
        (then OIDC alone, never falling back to another identity such as the node's instance role), the current CLI
        profile in C(~/.aliyun/config.json), the credentials file (E(ALIBABA_CLOUD_CREDENTIALS_FILE) or
        C(~/.alibabacloud/credentials.ini)), an ECS instance RAM role, E(ALIBABA_CLOUD_CREDENTIALS_URI).
        When keys are given, the default chain is never built.
    type: str
    aliases: [access_key, alicloud_access_key]
  access_key_secret:
    description:
      - Alibaba Cloud AccessKey secret, given together with O(access_key_id).
      - When not given, the first set of E(ALIBABA_CLOUD_ACCESS_KEY_SECRET), E(ALICLOUD_SECRET_KEY) and
        E(ALICLOUD_SECRET_ACCESS_KEY) is used.
      - Never sent over the network and never shown in any output; requests carry only signatures.
      - A value with a control character (a newline read from a file), white space or a character outside ASCII
        is refused before any call, with a message that does not quote it.
    type: str
    aliases: [secret_key, alicloud_secret_key, secret_access_key]
  security_token:
    description:
      - STS security token, for temporary credentials. Needs O(access_key_id) and O(access_key_secret)
        of the same STS key pair.
      - When not given, E(ALIBABA_CLOUD_SECURITY_TOKEN) or E(ALICLOUD_SECURITY_TOKEN) is used.
      - Sent in a request header, never shown in any output (raw, URL-encoded or escaped). A value with a control
        character (a newline read from a file), white space or a character outside ASCII is refused before any
        call, with a message that does not quote it.
    type: str
    aliases: [alicloud_security_token]
  profile:
    description:
      - Name of a profile of the Alibaba Cloud CLI configuration (C(~/.aliyun/config.json), or
        O(shared_credentials_file)).
      - When no option or environment variable gives keys, E(ALIBABA_CLOUD_PROFILE) or
        E(ALICLOUD_PROFILE) is used.
      - Profiles of mode C(AK), C(StsToken), C(RamRoleArn), C(ChainableRamRoleArn) (with its C(source_profile)
        chain) and C(EcsRamRole) are read and built by the collection, so O(sts_endpoint) and the connection options
        apply to their calls; a profile that cannot work (a role ARN of another form, a missing key, a loop of
        source profiles) fails before any call, naming the file, the profile and the field. The other modes
        (C(OIDC), C(CloudSSO), C(OAuth), C(External)) are handed to the SDK as they are, and are not tested.
    type: str
  shared_credentials_file:
    description:
      - Path of the Alibaba Cloud CLI configuration file that holds O(profile).
      - Defaults to C(~/.aliyun/config.json); E(ALICLOUD_SHARED_CREDENTIALS_FILE) is used with a profile
        from the environment.
    type: path
  ram_role_arn:
    description:
      - ARN of a RAM role to assume with the credentials found otherwise, for example
        C(acs:ram::123456789012:role/audit-reader). A value of another form is refused before any call.
    type: str
    aliases: [assume_role_arn]
  role_session_name:
    description:
      - Session name used when assuming O(ram_role_arn); appears in ActionTrail. 2 to 64 letters, digits and
        C(.) C(@) C(-) C(_); only with O(ram_role_arn).
    type: str
  role_session_expiration:
    description:
      - Lifetime in seconds of the credentials obtained by assuming O(ram_role_arn), 900 to 43200; only with
        O(ram_role_arn).
    type: int
  external_id:
    version_added: 0.2.0
    description:
      - The external ID the trust policy of O(ram_role_arn) asks for (AssumeRole's C(ExternalId)), for example when
        a central team assumes a role in a customer's account. 2 to 1224 letters, digits and the characters C(_+=,.@:/-);
        a value with a control character or anything else is refused before any call. Only with O(ram_role_arn).
    type: str
  role_policy:
    version_added: 0.2.0
    description:
      - A RAM policy document that narrows what the credentials obtained by assuming O(ram_role_arn) may do
        (AssumeRole's C(Policy)), as a dictionary or its JSON text, at most 2048 characters. Text that is not a JSON
        object is refused before any call. Only with O(ram_role_arn).
    type: raw
  sts_endpoint:
    version_added: 0.2.0
    description:
      - The STS endpoint as C(host[:port]), without a scheme (STS is always called over https), for every STS call
        the credentials need - assuming O(ram_role_arn), a CLI profile of mode C(RamRoleArn) or
        C(ChainableRamRoleArn), and OIDC from E(ALIBABA_CLOUD_ROLE_ARN), E(ALIBABA_CLOUD_OIDC_PROVIDER_ARN) and
        E(ALIBABA_CLOUD_OIDC_TOKEN_FILE) (ACK RRSA).
      - When not given - the C(sts_region) (and C(enable_vpc)) of such a CLI profile; with O(endpoint_type=vpc),
        C(sts-vpc.<region>.aliyuncs.com) of the first region of O(region_id), so that a host in a VPC without internet
        access can assume roles; the region in E(ALIBABA_CLOUD_STS_REGION) (C(sts-vpc) when
        E(ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED) is C(true)); else C(sts.aliyuncs.com).
      - O(ca_bundle), O(https_proxy) and the timeouts apply to the STS calls too; O(validate_certs) does not (STS
        certificates are always checked). The instance metadata service of O(ecs_ram_role) is never reached through
        a proxy. The CLI profile modes the collection hands to the SDK as they are (C(OIDC), C(CloudSSO), C(OAuth),
        C(External)) use the SDK's own STS settings.
    type: str
  ecs_ram_role:
    description:
      - Name of the RAM role attached to the ECS instance the module runs on; its credentials come
        from the instance metadata service.
    type: str
    aliases: [ecs_role_name]
  region_id:
    description:
      - One region ID or a list of region IDs, for example C(cn-hangzhou).
      - Several regions are queried concurrently and the results merged.
      - When not given, E(ALIBABA_CLOUD_REGION_ID), E(ALICLOUD_REGION) or E(ALICLOUD_REGION_ID) is used
        (a comma-separated list is accepted).
    type: list
    elements: str
    required: true
    aliases: [region, alicloud_region]
  endpoint:
    description:
      - The API endpoint as C(host[:port]), without a scheme. Overrides the endpoint computed from
        O(region_id) and O(endpoint_type), for every region.
      - Use it for a proxy of your own or a local test endpoint.
    type: str
  endpoint_type:
    description:
      - Which endpoint to compute for a region. V(public) is C(ecs.<region>.aliyuncs.com); V(vpc) is
        C(ecs-vpc.<region>.aliyuncs.com), reachable from inside a VPC of that region.
    type: str
    default: public
    choices: [public, vpc]
  protocol:
    description:
      - V(https), or V(http) only when asked. Over http, signatures, STS tokens and session records
        travel in clear text, and a warning says so.
      - The module never falls back from https to http; an endpoint that does not speak TLS fails the task.
    type: str
    default: https
    choices: [https, http]
  validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate. Turning it off warns; prefer O(ca_bundle)
        for a private certificate authority.
    type: bool
    default: true
  ca_bundle:
    description:
      - Path of a PEM file of certificate authorities to verify the endpoint with.
      - Also trusted for the STS calls of the credentials (see O(sts_endpoint)), in addition to the system's
        authorities; no process-wide setting such as E(SSL_CERT_FILE) is changed.
    type: path
  http_proxy:
    description:
      - Proxy URL for http requests, for example C(http://proxy.example.com:3128); the scheme must be C(http)
        or C(https). The SDK also reads E(HTTP_PROXY) itself, and never honours E(NO_PROXY).
      - A proxy that needs a password takes it in the URL, C(http://user:password@proxy.example.com:3128),
        %-encoded or as it is (C(#), C(?), C(@), C(/) and C(:) included; the host follows the last C(@), and a
        C(%) followed by two hex digits is read as %-encoding). The URL stays visible in results, its password
        masked (C(********)); no error message quotes it.
    type: str
  https_proxy:
    description:
      - Proxy URL for https requests, in the same form as O(http_proxy), its password masked in the same way.
        The SDK also reads E(HTTPS_PROXY) itself.
    type: str
  connect_timeout:
    description:
      - Seconds to wait for a connection to the endpoint, per attempt.
    type: float
    default: 5
  read_timeout:
    description:
      - Seconds to wait for an answer once connected, per attempt.
    type: float
    default: 10
  retries:
    description:
      - How many times one API call is retried after throttling (C(Throttling), C(Throttling.User),
        C(Throttling.Api), HTTP 429), a server error (HTTP 5xx, C(ServiceUnavailable), C(InternalError)),
        a broken or refused connection, a timeout, or a body that is not JSON (the HTML error page of a proxy,
        an answer cut short). Other errors are not retried.
      - When the retries run out, the task fails with the last error, the number of attempts and, when there was
        an answer, its HTTP status (and the start of a body that is not JSON, at most 300 characters); a listing
        never returns part of its records.
      - Each page of a listing is retried on its own, so a throttled page never restarts the listing.
      - Waits grow exponentially from O(retry_delay) up to O(retry_max_delay), with random jitter, and
        honour the service's C(x-acs-retry-after). With the defaults the waits add up to more than a
        minute, the time ECS takes to lift a throttle.
      - The longest a call can take is about (O(retries) + 1) x (O(connect_timeout) + O(read_timeout))
        plus the waits.
    type: int
    default: 10
  retry_delay:
    description:
      - Seconds to wait before the first retry; each further retry waits twice as long, up to
        O(retry_max_delay), scaled by a random factor between 0.5 and 1.
    type: float
    default: 1
  retry_max_delay:
    description:
      - The longest wait in seconds between two attempts (a longer C(x-acs-retry-after) asked by the
        service is honoured up to 60 seconds).
    type: float
    default: 20
notes:
  - Every option is checked before any call - a wrong type, a value out of range or a contradictory
    combination fails the task with a message that names the option.
  - Errors users can fix themselves come with a hint naming what to check - a wrong access key secret
    (C(SignatureDoesNotMatch)) or ID (C(InvalidAccessKeyId.NotFound)), an expired STS token, or this host's clock
    (NTP) when the service refuses the request time (C(InvalidTimeStamp.Expired)).
  - Credentials are looked up in this order - task options, environment variables, the SDK's default
    credential chain. Set them once for a play with C(module_defaults) and the action group
    C(group/alicloud.ecs.alicloud).
  - No secret is ever shown in results, warnings or errors, including at high verbosity - neither raw nor
    URL-encoded nor escaped; this covers the key secret, the STS token, proxy passwords and the temporary
    credentials of an assumed role. The module neutralises the SDK's E(DEBUG=sdk) request logging in its own
    process, since that log prints signed headers and STS tokens, and keeps the SDK's log lines off its stderr.
requirements:
  - python >= 3.8
  - alibabacloud-tea-openapi >= 0.4.6
  - alibabacloud-credentials >= 1.0.12 and darabonba-core >= 1.0.8 (normally installed with alibabacloud-tea-openapi)
'''

    # The plugins' variant: the same options, plus the ``env`` entries through which Ansible's configuration
    # reads them (in the order they are looked up), and notes that speak of plugins rather than tasks.
    # tests/unit/plugins/doc_fragments/test_alicloud.py keeps it equal to DOCUMENTATION option by option and its
    # ``env`` entries equal to credentials.ENV_BY_OPTION.
    PLUGINS = r'''
options:
  access_key_id:
    description:
      - Alibaba Cloud AccessKey ID.
      - When not given, the first set of E(ALIBABA_CLOUD_ACCESS_KEY_ID), E(ALICLOUD_ACCESS_KEY) and
        E(ALICLOUD_ACCESS_KEY_ID) is used.
      - An ID with white space or characters other than letters, digits, C(.), C(-) and C(_) (a newline read from a
        file, a list given for a string) is refused before any call.
      - Credentials are looked up in this order - options in the configuration file, then environment variables,
        then the SDK's default credential chain, in the SDK's order - OIDC of ACK RRSA when
        E(ALIBABA_CLOUD_ROLE_ARN), E(ALIBABA_CLOUD_OIDC_PROVIDER_ARN) and E(ALIBABA_CLOUD_OIDC_TOKEN_FILE) are all set
        (then OIDC alone, never falling back to another identity such as the node's instance role), the current CLI
        profile in C(~/.aliyun/config.json), the credentials file (E(ALIBABA_CLOUD_CREDENTIALS_FILE) or
        C(~/.alibabacloud/credentials.ini)), an ECS instance RAM role, E(ALIBABA_CLOUD_CREDENTIALS_URI).
        When keys are given, the default chain is never built.
    type: str
    env:
      - name: ALIBABA_CLOUD_ACCESS_KEY_ID
      - name: ALICLOUD_ACCESS_KEY
      - name: ALICLOUD_ACCESS_KEY_ID
    aliases: [access_key, alicloud_access_key]
  access_key_secret:
    description:
      - Alibaba Cloud AccessKey secret, given together with O(access_key_id).
      - When not given, the first set of E(ALIBABA_CLOUD_ACCESS_KEY_SECRET), E(ALICLOUD_SECRET_KEY) and
        E(ALICLOUD_SECRET_ACCESS_KEY) is used.
      - Never sent over the network and never shown in any output; requests carry only signatures.
      - A value with a control character (a newline read from a file), white space or a character outside ASCII
        is refused before any call, with a message that does not quote it.
    type: str
    env:
      - name: ALIBABA_CLOUD_ACCESS_KEY_SECRET
      - name: ALICLOUD_SECRET_KEY
      - name: ALICLOUD_SECRET_ACCESS_KEY
    aliases: [secret_key, alicloud_secret_key, secret_access_key]
  security_token:
    description:
      - STS security token, for temporary credentials. Needs O(access_key_id) and O(access_key_secret)
        of the same STS key pair.
      - When not given, E(ALIBABA_CLOUD_SECURITY_TOKEN) or E(ALICLOUD_SECURITY_TOKEN) is used.
      - Sent in a request header, never shown in any output (raw, URL-encoded or escaped). A value with a control
        character (a newline read from a file), white space or a character outside ASCII is refused before any
        call, with a message that does not quote it.
    type: str
    env:
      - name: ALIBABA_CLOUD_SECURITY_TOKEN
      - name: ALICLOUD_SECURITY_TOKEN
    aliases: [alicloud_security_token]
  profile:
    description:
      - Name of a profile of the Alibaba Cloud CLI configuration (C(~/.aliyun/config.json), or
        O(shared_credentials_file)).
      - When no option or environment variable gives keys, E(ALIBABA_CLOUD_PROFILE) or
        E(ALICLOUD_PROFILE) is used.
      - Profiles of mode C(AK), C(StsToken), C(RamRoleArn), C(ChainableRamRoleArn) (with its C(source_profile)
        chain) and C(EcsRamRole) are read and built by the collection, so O(sts_endpoint) and the connection options
        apply to their calls; a profile that cannot work (a role ARN of another form, a missing key, a loop of
        source profiles) fails before any call, naming the file, the profile and the field. The other modes
        (C(OIDC), C(CloudSSO), C(OAuth), C(External)) are handed to the SDK as they are, and are not tested.
    type: str
    env:
      - name: ALIBABA_CLOUD_PROFILE
      - name: ALICLOUD_PROFILE
  shared_credentials_file:
    description:
      - Path of the Alibaba Cloud CLI configuration file that holds O(profile).
      - Defaults to C(~/.aliyun/config.json); E(ALICLOUD_SHARED_CREDENTIALS_FILE) is used with a profile
        from the environment.
    type: path
    env:
      - name: ALICLOUD_SHARED_CREDENTIALS_FILE
  ram_role_arn:
    description:
      - ARN of a RAM role to assume with the credentials found otherwise, for example
        C(acs:ram::123456789012:role/audit-reader). A value of another form is refused before any call.
    type: str
    aliases: [assume_role_arn]
  role_session_name:
    description:
      - Session name used when assuming O(ram_role_arn); appears in ActionTrail. 2 to 64 letters, digits and
        C(.) C(@) C(-) C(_); only with O(ram_role_arn).
    type: str
  role_session_expiration:
    description:
      - Lifetime in seconds of the credentials obtained by assuming O(ram_role_arn), 900 to 43200; only with
        O(ram_role_arn).
    type: int
  external_id:
    version_added: 0.2.0
    description:
      - The external ID the trust policy of O(ram_role_arn) asks for (AssumeRole's C(ExternalId)), for example when
        a central team assumes a role in a customer's account. 2 to 1224 letters, digits and the characters C(_+=,.@:/-);
        a value with a control character or anything else is refused before any call. Only with O(ram_role_arn).
    type: str
  role_policy:
    version_added: 0.2.0
    description:
      - A RAM policy document that narrows what the credentials obtained by assuming O(ram_role_arn) may do
        (AssumeRole's C(Policy)), as a dictionary or its JSON text, at most 2048 characters. Text that is not a JSON
        object is refused before any call. Only with O(ram_role_arn).
    type: raw
  sts_endpoint:
    version_added: 0.2.0
    description:
      - The STS endpoint as C(host[:port]), without a scheme (STS is always called over https), for every STS call
        the credentials need - assuming O(ram_role_arn), a CLI profile of mode C(RamRoleArn) or
        C(ChainableRamRoleArn), and OIDC from E(ALIBABA_CLOUD_ROLE_ARN), E(ALIBABA_CLOUD_OIDC_PROVIDER_ARN) and
        E(ALIBABA_CLOUD_OIDC_TOKEN_FILE) (ACK RRSA).
      - When not given - the C(sts_region) (and C(enable_vpc)) of such a CLI profile; with O(endpoint_type=vpc),
        C(sts-vpc.<region>.aliyuncs.com) of the first region of O(region_id), so that a host in a VPC without internet
        access can assume roles; the region in E(ALIBABA_CLOUD_STS_REGION) (C(sts-vpc) when
        E(ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED) is C(true)); else C(sts.aliyuncs.com).
      - O(ca_bundle), O(https_proxy) and the timeouts apply to the STS calls too; O(validate_certs) does not (STS
        certificates are always checked). The instance metadata service of O(ecs_ram_role) is never reached through
        a proxy. The CLI profile modes the collection hands to the SDK as they are (C(OIDC), C(CloudSSO), C(OAuth),
        C(External)) use the SDK's own STS settings.
    type: str
  ecs_ram_role:
    description:
      - Name of the RAM role attached to the ECS instance the module runs on; its credentials come
        from the instance metadata service.
    type: str
    aliases: [ecs_role_name]
  region_id:
    description:
      - One region ID or a list of region IDs, for example C(cn-hangzhou).
      - Several regions are queried concurrently and the results merged.
      - When not given, E(ALIBABA_CLOUD_REGION_ID), E(ALICLOUD_REGION) or E(ALICLOUD_REGION_ID) is used
        (a comma-separated list is accepted).
    type: list
    env:
      - name: ALIBABA_CLOUD_REGION_ID
      - name: ALICLOUD_REGION
      - name: ALICLOUD_REGION_ID
    elements: str
    required: true
    aliases: [region, alicloud_region]
  endpoint:
    description:
      - The API endpoint as C(host[:port]), without a scheme. Overrides the endpoint computed from
        O(region_id) and O(endpoint_type), for every region.
      - Use it for a proxy of your own or a local test endpoint.
    type: str
  endpoint_type:
    description:
      - Which endpoint to compute for a region. V(public) is C(ecs.<region>.aliyuncs.com); V(vpc) is
        C(ecs-vpc.<region>.aliyuncs.com), reachable from inside a VPC of that region.
    type: str
    default: public
    choices: [public, vpc]
  protocol:
    description:
      - V(https), or V(http) only when asked. Over http, signatures, STS tokens and session records
        travel in clear text, and a warning says so.
      - The plugin never falls back from https to http; an endpoint that does not speak TLS fails the plugin.
    type: str
    default: https
    choices: [https, http]
  validate_certs:
    description:
      - Whether to verify the endpoint's TLS certificate. Turning it off warns; prefer O(ca_bundle)
        for a private certificate authority.
    type: bool
    default: true
  ca_bundle:
    description:
      - Path of a PEM file of certificate authorities to verify the endpoint with.
      - Also trusted for the STS calls of the credentials (see O(sts_endpoint)), in addition to the system's
        authorities; no process-wide setting such as E(SSL_CERT_FILE) is changed.
    type: path
  http_proxy:
    description:
      - Proxy URL for http requests, for example C(http://proxy.example.com:3128); the scheme must be C(http)
        or C(https). The SDK also reads E(HTTP_PROXY) itself, and never honours E(NO_PROXY).
      - A proxy that needs a password takes it in the URL, C(http://user:password@proxy.example.com:3128),
        %-encoded or as it is (C(#), C(?), C(@), C(/) and C(:) included; the host follows the last C(@), and a
        C(%) followed by two hex digits is read as %-encoding). The URL stays visible in results, its password
        masked (C(********)); no error message quotes it.
    type: str
  https_proxy:
    description:
      - Proxy URL for https requests, in the same form as O(http_proxy), its password masked in the same way.
        The SDK also reads E(HTTPS_PROXY) itself.
    type: str
  connect_timeout:
    description:
      - Seconds to wait for a connection to the endpoint, per attempt.
    type: float
    default: 5
  read_timeout:
    description:
      - Seconds to wait for an answer once connected, per attempt.
    type: float
    default: 10
  retries:
    description:
      - How many times one API call is retried after throttling (C(Throttling), C(Throttling.User),
        C(Throttling.Api), HTTP 429), a server error (HTTP 5xx, C(ServiceUnavailable), C(InternalError)),
        a broken or refused connection, a timeout, or a body that is not JSON (the HTML error page of a proxy,
        an answer cut short). Other errors are not retried.
      - When the retries run out, the plugin fails with the last error, the number of attempts and, when there was
        an answer, its HTTP status (and the start of a body that is not JSON, at most 300 characters); a listing
        never returns part of its records.
      - Each page of a listing is retried on its own, so a throttled page never restarts the listing.
      - Waits grow exponentially from O(retry_delay) up to O(retry_max_delay), with random jitter, and
        honour the service's C(x-acs-retry-after). With the defaults the waits add up to more than a
        minute, the time ECS takes to lift a throttle.
      - The longest a call can take is about (O(retries) + 1) x (O(connect_timeout) + O(read_timeout))
        plus the waits.
    type: int
    default: 10
  retry_delay:
    description:
      - Seconds to wait before the first retry; each further retry waits twice as long, up to
        O(retry_max_delay), scaled by a random factor between 0.5 and 1.
    type: float
    default: 1
  retry_max_delay:
    description:
      - The longest wait in seconds between two attempts (a longer C(x-acs-retry-after) asked by the
        service is honoured up to 60 seconds).
    type: float
    default: 20
notes:
  - Every option is checked before any call; a wrong type, a value out of range or a contradictory combination
    fails the plugin with a message that names the option.
  - Credentials are looked up in this order - options in the configuration file, then environment variables (for
    each option, the first one set in the order listed), then the SDK's default credential chain. When keys are
    given, the default chain is never built.
  - No secret is ever shown in output, warnings or errors, including at high verbosity - neither raw nor
    URL-encoded nor escaped (key secret, STS token, proxy passwords, the temporary credentials of an assumed role).
    The SDK's log lines are kept off stderr. While the plugin calls Alibaba Cloud, E(DEBUG=sdk) is set aside (the
    SDK would log signed headers) and then restored, so the controller's environment is as it was for later tasks.
requirements:
  - python >= 3.8
  - alibabacloud-tea-openapi >= 0.4.6
  - alibabacloud-credentials >= 1.0.12 and darabonba-core >= 1.0.8 (normally installed with alibabacloud-tea-openapi)
'''

    # The client-side selection shared by the modules that list sessions.
    FILTERS = r'''
options:
  filters:
    description:
      - Criteria the service cannot apply, applied on this side to every session it returns; a session
        is selected when it meets all of them. Lists match when any item matches.
    type: dict
    suboptions:
      username:
        description: OS user names the session logged in as, for example C(root).
        type: list
        elements: str
      principal_id:
        description: IDs of the Alibaba Cloud account, RAM user or role that opened the session.
        type: list
        elements: str
      identity_type:
        description: Principal types - C(Account), C(RAMUser), C(AssumedRoleUser). Case-insensitive; other values are refused.
        type: list
        elements: str
      client_ip:
        description: Client addresses or CIDR blocks, for example C(10.0.0.0/8).
        type: list
        elements: str
      status:
        description:
          - Connection statuses; a session matches when one of its connections has one of them -
            C(Connecting), C(Connected), C(Disconnected), C(Terminating), C(Terminated), C(Failed).
            Case-insensitive; other values are refused, so a typo cannot silently match nothing.
        type: list
        elements: str
      active:
        description: V(true) keeps only sessions with a connection C(Connecting) or C(Connected); V(false) only the others.
        type: bool
      port_forwarding:
        description: V(true) keeps only port-forwarding sessions (a port number or target server is set); V(false) only shells.
        type: bool
      created_after:
        description:
          - Keep sessions created after this time - ISO 8601 (C(2024-01-19T09:15:46Z); no offset means UTC)
            or an age before now such as C(30m), C(24h), C(7d), C(2w).
        type: str
      created_before:
        description:
          - Keep sessions created before this time, in the same forms as O(filters.created_after).
          - With both, O(filters.created_after) must be the earlier time.
        type: str
'''

    # The JMESPath ``query`` option of the modules that return sessions (ecs_terminal_session_info and
    # ecs_terminal_session_archive_info): module.AlicloudModule.compiled_query and session_result implement it.
    QUERY = r'''
options:
  query:
    description:
      - A JMESPath expression applied to the list of sessions after O(filters), exactly as returned in
        RV(sessions) (snake_case keys). Its value is returned in RV(query_result); RV(sessions) and the
        other results are not affected.
      - For example C([?username=='root'].session_id) or C(length([?contains(instance_ids, 'i-abc')])).
    type: str
'''

    # The bounds of a listing, shared by the modules that list sessions, the inventory plugin and the enrich_hosts
    # filter. The filter documents no connection option, so this text references none with O(...): antsibull-docs
    # would report it as an option the filter does not have.
    LISTING = r'''
options:
  listing_timeout:
    version_added: 0.2.0
    description:
      - Seconds the whole listing may take - every page of every query (regions x instance IDs x session IDs),
        retries and their waits included. The default is 30 minutes.
      - When it passes, the calls still in flight are cut off - their connections are shut down, so even an answer
        trickling in a byte at a time (which the read timeout, a bound on each read, never stops) ends - and the
        listing fails, naming the bound, the query and the pages it had read. A retry whose wait would end after it
        is not made. A listing is never returned incomplete.
      - More than 0, at most 604800 (a week).
    type: float
    default: 1800
  max_pages:
    version_added: 0.2.0
    description:
      - Pages one query may read, at least 1. The default 1000 is 100,000 sessions at 100 a page, far more than the
        service keeps (about four weeks of sessions; newer documentation says at most 1,000).
      - A query with a next page after that many fails, naming the bound and the query, instead of following a
        service that hands out a fresh C(NextToken) for ever. A listing is never returned incomplete.
    type: int
    default: 1000
'''

    # The result options of the info modules (module_utils/result_shape.py checks them).
    RESULT = r'''
options:
  return_keys:
    version_added: 0.2.0
    description:
      - Which of RV(sessions), RV(sessions_by_instance) and RV(summary_by_instance) the task returns; the others are
        left out of the result. By default all three, as before this option existed.
      - The summaries are computed from the full records whatever is returned, and O(query) runs on the full
        session list; RV(query_result) is returned whatever this option says.
      - A play that needs only the summaries should ask for V(summary_by_instance) alone - the result then holds one
        summary per instance instead of about 490 bytes per session, which ansible-core handles several times over
        and AWX stores as a job event (see docs/performance.md for the size and time of each choice).
    type: list
    elements: str
    choices: [sessions, sessions_by_instance, summary_by_instance]
    default: [sessions, sessions_by_instance, summary_by_instance]
  session_fields:
    version_added: 0.2.0
    description:
      - Keep only these fields of each session record returned (in RV(sessions)); by default every field.
      - Only the documented fields can be named - C(session_id), C(region_id), C(creation_time), C(username),
        C(client_ip), C(principal_id), C(identity_type), C(target_server), C(port_number), C(instance_ids),
        C(connections). Any other name is refused before any API call, with the list of valid names.
      - A field the service left empty stays absent, as without this option.
      - Summaries, O(filters) and O(query) always see the full records.
    type: list
    elements: str
'''
