"""Strict local stand-in for the Alibaba Cloud ECS RPC endpoint (DescribeTerminalSessions), for tests only.

Modules, one concern each:
  signature  V3 (ACS3-HMAC-SHA256) and V2 (HMAC-SHA1) signing maths
  data       deterministic seeded session records
  errors     POP error codes, statuses and bodies
  tokens     opaque NextToken bound to the query
  faults     fault-injection settings and per-call decisions
  auth       strict request verification (signatures, clock, nonces, STS)
  tlscert    throw-away CA and server certificate
  server     EcsEndpoint (HTTP/HTTPS server, control API, stats)
  identities IdentityRegistry: static test keys and issued temporary keys, with their identities
  service    LocalService: HTTP(S) plumbing of the STS and metadata stand-ins
  sts        StsEndpoint (AssumeRole, AssumeRoleWithOIDC over HTTPS)
  metadata   MetadataEndpoint (instance metadata, hardened token mode, RAM role keys)
  listener   RecordingListener (the target of a redirect: records whatever arrives)
  rawclient  hand-signed requests for probing the checks
  __main__   CLI: python -m ecs_endpoint
"""
