"""Checkov checks that do not fit this stack, each suppressed on its resource with the reason.

Kept in one place so the list stays short and reviewable. Applied last by
build.build_template(); the lint task and tests fail on anything not here.
"""

from __future__ import annotations

from troposphere import Template

from ..errors import UserError

_CMK = ("CKV_AWS_149", "Encrypted with the AWS managed key; a customer key adds cost and key-policy "
        "management without changing who can read the secret (IAM scopes that, see cluster.py)")
_LOG_CMK = ("CKV_AWS_158", "Encrypted at rest by CloudWatch Logs; the logs hold no secrets (they are injected, never logged)")

# logical id -> ((check id, reason), ...)
SUPPRESSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "AlarmTopic": (("CKV_AWS_26", "CloudWatch alarms cannot publish to a topic encrypted with the aws/sns key; "
                                  "alarm messages carry no sensitive data"),),
    "DatabaseSecret": (_CMK,),
    "JwtSecret": (_CMK,),
    "FinnhubApiKeySecret": (_CMK,),
    "CoinGeckoApiKeySecret": (_CMK,),
    "WebLogGroup": (_LOG_CMK,),
    "WorkerLogGroup": (_LOG_CMK,),
    "ExecLogGroup": (_LOG_CMK,),
    "Database": (
        ("CKV_AWS_157", "Multi-AZ is per environment: on in prod (DBMultiAZ parameter, generated/prod.json); "
                        "the plan runs dev single-AZ for cost"),
        ("CKV_AWS_118", "Enhanced monitoring is not in the plan; RDS CloudWatch metrics and alarms cover CPU, "
                        "storage and connections"),
    ),
    "HttpListener": (
        ("CKV_AWS_2", "HTTP serves only until HTTPS is configured (CertificateArn, or DomainName and "
                      "HostedZoneId); then this listener redirects to HTTPS"),
        ("CKV_AWS_103", "Plain HTTP listener has no TLS policy; the HTTPS listener uses " 
                        "ELBSecurityPolicy-TLS13-1-2-2021-06"),
    ),
    "LoadBalancer": (("CKV_AWS_91", "Access logs are on in prod (AccessLogs parameter, an encrypted bucket); off "
                                    "in dev and staging for cost, where ALB metrics and 5xx alarms cover errors"),),
    "LoadBalancerSecurityGroup": (("CKV_AWS_260", "The public web entry point: port 80 must be open to the internet "
                                                  "(it redirects to 443 once a certificate is configured)"),),
    "Repository": (
        ("CKV_AWS_51", "Tags are immutable except `latest` (IMMUTABLE_WITH_EXCLUSION); "
                       "releases deploy by immutable tag and digest"),
        ("CKV_AWS_136", "ECR's default AES256 at rest; switching to KMS (a create-only property) replaces the "
                        "repository and would lose its images"),
    ),
}


def apply_suppressions(t: Template) -> None:
    unknown = sorted(set(SUPPRESSIONS) - set(t.resources))
    if unknown:
        raise UserError(f"template/suppressions.py suppresses checks on {', '.join(unknown)}, which the template "
                        "does not have (renamed or removed?); update SUPPRESSIONS to the new logical ID")
    for logical_id, checks in sorted(SUPPRESSIONS.items()):
        resource = t.resources[logical_id]
        metadata = dict(getattr(resource, "Metadata", {}) or {})
        metadata["checkov"] = {"skip": [{"id": cid, "comment": why} for cid, why in checks]}
        resource.Metadata = metadata
