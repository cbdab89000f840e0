"""What the integration, reliability and security suites share, imported as ``support.<module>``.

- :mod:`support.keys`: the test keys the local endpoint accepts, and how to count secrets in output.
- :mod:`support.endpoints`: seeded data and :class:`EndpointFactory`, which starts local ECS endpoints.
- :mod:`support.playbooks`: the module run by ansible-playbook in a hermetic environment (:class:`Runner`).
- :mod:`support.multi_task`: several cases in one ansible-playbook run.
- :mod:`support.campaign`: the reliability suite's fault campaigns at -vvvv, with :class:`FaultyEndpoint`.
- :mod:`support.fixtures`: the pytest fixtures (``runner``, ``endpoint_factory``), imported by each suite's conftest.
- :mod:`support.credential_sandbox`: a temporary HOME with CLI profiles, INI file and OIDC token, behind the guard's opt-in.
- :mod:`support.netns`: runs a playbook inside a network namespace with the ECS, STS and instance-metadata endpoints.

``tests`` is on ``sys.path`` (the Makefile's TEST_ENV puts it there), as for ``ecs_endpoint``.
"""
