"""Elastic Load Balancing v2: a data plane, so requests reach the tasks the listener's rules choose."""

from __future__ import annotations

from . import gap

T = "tests/test_local_ecs_blue_green.py::"


@gap("elbv2-data-plane",
     summary="Application Load Balancers had no data plane: no request ever reached a target (patched: local/alb.py "
             "answers HTTP on 127.0.0.1, its address at the control plane's /portyfoul-api/alb; it routes each "
             "request by the listener's rules, path, host and http-header conditions and forward weights included, "
             "and answers as the image tag the chosen target group's tasks run, naming the group in "
             "X-Local-Target-Group)",
     aws="A listener evaluates its rules in priority order, the default rule last; a forward action with several "
         "target groups distributes requests by their weights; a group with no healthy targets answers 503.",
     reference="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-rules.html",
     test=T + "test_the_data_plane_routes_by_the_listener_rules_and_names_the_group")
def patch_data_plane() -> None:
    """The data plane is local/alb.py, started by local/server.py beside moto; nothing of moto changes."""
