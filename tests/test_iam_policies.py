"""Every IAM policy in both templates, audited by parliament (an IAM linter): findings fail the test.

The one reasoned exception: the CloudFormation execution role of the deploy stack may act on resources
of the application's services that do not exist yet, which no ARN can name before they are created.
"""

import json

import pytest

from portyfoul_infra.artifacts.generated import DEPLOY_ROLE_FILE, TEMPLATE_FILE, generated_dir

EXCEPTIONS = {("CloudFormationExecutionRole", "RESOURCE_STAR"):
              "CloudFormation creates the stack's resources; their ARNs do not exist before creation"}
_VALUES = {"${AWS::Partition}": "aws", "${AWS::Region}": "us-east-2", "${AWS::AccountId}": "946652103073",
           "${ProjectName}": "portyfoul", "${Environment}": "dev", "${StackName}": "portyfoul-infra",
           "${TemplateBucket}": "portyfoul-dev-cfn-templates", "${GitHubRepository}": "owner/portyfoul",
           "${GitHubEnvironment}": "production", "${PromoteFromEnvironment}": "staging",
           "${PromoteFromStack}": "portyfoul-staging-infra"}


def concrete(value):
    """A policy as AWS evaluates it for dev: intrinsic functions replaced by plausible ARNs."""
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            for k, v in _VALUES.items():
                text = text.replace(k, v)
            return text.replace("${Name}", "/portyfoul/dev/price-update-interval")
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"][0]
            return {"Repository": "arn:aws:ecr:us-east-2:946652103073:repository/portyfoul-dev"}.get(
                target, f"arn:aws:logs:us-east-2:946652103073:log-group:/ecs/portyfoul-dev-{target.lower()}:*"
                if "LogGroup" in target else f"arn:aws:iam::946652103073:role/portyfoul-dev-{target.lower()}")
        if "Ref" in value:
            return f"arn:aws:secretsmanager:us-east-2:946652103073:secret:portyfoul/dev/{value['Ref'].lower()}-AbCdEf"
        return {k: concrete(v) for k, v in value.items()}
    if isinstance(value, list):
        return [concrete(v) for v in value]
    return value


def policies():
    for file in (TEMPLATE_FILE, DEPLOY_ROLE_FILE):
        template = json.loads((generated_dir() / file).read_text())
        for logical_id, resource in sorted(template["Resources"].items()):
            for policy in resource.get("Properties", {}).get("Policies", []):
                yield pytest.param(logical_id, policy["PolicyDocument"], id=f"{file}:{logical_id}:{policy['PolicyName']}")


@pytest.mark.parametrize("logical_id, document", list(policies()))
def test_parliament_finds_nothing(logical_id, document):
    from parliament import analyze_policy_string
    analysis = analyze_policy_string(json.dumps(concrete(document)))
    findings = [(f.issue, f.detail) for f in analysis.findings if (logical_id, f.issue) not in EXCEPTIONS]
    assert findings == []


def test_there_are_policies_to_audit():
    assert {p.values[0] for p in policies()} >= {"TaskExecutionRole", "TaskRole", "DeployRole",
                                                 "CloudFormationExecutionRole"}
