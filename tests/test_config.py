from dataclasses import replace

import pytest

from portyfoul_infra.config import ENVIRONMENTS, ServiceSize, load_environment
from portyfoul_infra.contract import parameter_values as values_for
from portyfoul_infra.errors import UserError


def test_dev_reproduces_the_plan():
    dev = load_environment("dev")
    assert (dev.project, dev.region, dev.stack_name) == ("portyfoul", "us-east-2", "portyfoul-infra")
    assert dev.vpc_cidr == "10.0.0.0/16"
    assert dev.public_subnet_cidrs == ("10.0.1.0/24", "10.0.4.0/24")
    assert dev.private_subnet_cidrs == ("10.0.2.0/24", "10.0.3.0/24")
    assert (dev.db_instance_class, dev.db_allocated_storage_gb, dev.db_backup_retention_days) == ("db.t4g.micro", 20, 7)
    assert not dev.db_multi_az
    assert (dev.web.cpu, dev.web.memory, dev.web_desired_count) == (256, 512, 2)
    assert (dev.worker.cpu, dev.worker.memory) == (256, 512)
    assert dev.cpu_architecture == "ARM64" and dev.docker_platform == "linux/arm64"
    assert dev.price_update_interval_minutes == 15 and dev.log_retention_days == 7


def test_prod_is_safer_and_bigger():
    prod = load_environment("prod")
    assert prod.db_multi_az and prod.deletion_protection
    assert prod.web_desired_count > ENVIRONMENTS["dev"].web_desired_count
    assert values_for(prod)["DBMultiAZ"] == "true" and values_for(prod)["DeletionProtection"] == "true"


def test_environments_do_not_share_address_space():
    cidrs = [e.vpc_cidr for e in ENVIRONMENTS.values()]
    assert len(set(cidrs)) == len(cidrs)


def test_unknown_environment_is_a_one_line_error():
    with pytest.raises(UserError, match=r"unknown environment 'qa'; choose one of: dev, staging, prod"):
        load_environment("qa")


@pytest.mark.parametrize("change, message", [
    ({"web": ServiceSize(cpu=256, memory=4096)}, "not a valid Fargate size"),
    ({"private_subnet_cidrs": ("10.0.1.0/24", "10.0.3.0/24")}, "overlap"),
    ({"public_subnet_cidrs": ("10.9.1.0/24", "10.0.4.0/24")}, "outside the VPC"),
    ({"web_min_count": 3}, "web_min_count"),
    ({"price_update_interval_minutes": 0}, "positive"),
    ({"cpu_architecture": "arm"}, "cpu_architecture"),
    ({"db_backup_retention_days": 0}, "disable backups"),
    ({"keep_task_definition_revisions": 1}, "rollback target"),
    ({"alarm_email": "nope"}, "e-mail"),
])
def test_invalid_config_is_rejected(change, message):
    with pytest.raises(UserError, match=message):
        replace(ENVIRONMENTS["dev"], **change)


def test_every_deliberate_difference_from_the_plan_is_listed_with_its_value():
    """docs/operations.md, "Where we differ from the plan, and why": each value that differs from the plan (docs/
    infra_plan_spec.md) is named there as the code sets it; a change to one without the guide fails here."""
    from portyfoul_infra.template.containers import CONTAINER_HEALTH
    from portyfoul_infra.template.database import ENGINE_VERSION
    from support import ROOT

    guide = (ROOT / "docs" / "operations.md").read_text()
    section = guide.split("\n## Where we differ from the plan, and why\n", 1)[1].split("\n## ", 1)[0]
    plan = (ROOT / "docs" / "infra_plan_spec.md").read_text()
    dev, prod = ENVIRONMENTS["dev"], ENVIRONMENTS["prod"]
    assert dev.worker_capacity == "FARGATE_SPOT" and 'worker_capacity="FARGATE_SPOT"' in section
    assert "Health check interval: 30 seconds" in plan and dev.health_check_interval_seconds != 30
    assert f"every **{dev.health_check_interval_seconds} s**" in section
    assert "Deregistration delay: 30 seconds" in plan
    assert f"**{dev.deregistration_delay_seconds} s** deregistration delay" in section
    assert f"{dev.rollout_step_seconds} s after its replacement is healthy" in section
    assert "Engine Version: 17.2" in plan and f"**{ENGINE_VERSION}**" in section
    assert "allows port 5432 from VPC" in plan and "5432 **from the services' security group only**" in section
    assert f"scaling **{dev.web_min_count}-{dev.web_max_count}** on **{dev.web_cpu_target_percent}%** CPU" in section
    assert f"prod {prod.web_min_count}-{prod.web_max_count}" in section
    assert f"every {CONTAINER_HEALTH['Interval']} s" in section
    assert not dev.https and "dev stays on HTTP" in section
    for heading in ("alarms and dashboard", "image tags", "task execution role", "ECS Exec", "rollback target"):
        assert f"**{heading}**" in section, heading


def test_the_plan_is_in_the_repository_and_the_readme_links_it():
    from support import ROOT

    readme = (ROOT / "README.md").read_text()
    assert "(docs/infra_plan_spec.md)" in readme and "../shared" not in readme
    assert "docs/operations.md#where-we-differ-from-the-plan-and-why" in readme
    assert (ROOT / "docs" / "infra_plan_spec.md").read_text().startswith("# AWS ECS Infrastructure Plan for Portyfoul")


def test_every_environment_has_a_github_environment_and_the_promotions_chain_from_dev():
    """dev builds each application commit; staging promotes dev's image, prod staging's: one account for all three."""
    from portyfoul_infra.config import check_promotions
    assert {n: e.github_environment for n, e in ENVIRONMENTS.items()} == {
        "dev": "dev", "staging": "staging", "prod": "production"}
    assert {n: e.promote_from for n, e in ENVIRONMENTS.items()} == {"dev": "", "staging": "dev", "prod": "staging"}
    check_promotions(ENVIRONMENTS)


@pytest.mark.parametrize("changes, message", [
    ({"staging": {"account_id": "111122223333"}},
     r"invalid config for environment 'staging': dev \(946652103073\) and staging \(111122223333\) live in different "
     r"accounts: promote from dev to staging reads dev's stack, release history and image with staging's credentials"),
    ({"prod": {"promote_from": "qa"}}, r"'prod': promote_from 'qa' names an unknown environment"),
    ({"prod": {"promote_from": "prod"}}, r"'prod': promote_from 'prod' names the environment itself"),
    ({"dev": {"promote_from": "prod"}}, r"promote_from '(dev|staging|prod)' makes a cycle"),
])
def test_promote_from_must_name_another_environment_in_the_same_account(changes, message):
    from portyfoul_infra.config import check_promotions
    environments = {n: replace(e, **changes.get(n, {})) for n, e in ENVIRONMENTS.items()}
    with pytest.raises(UserError, match=message):
        check_promotions(environments)


def test_a_promotion_names_the_environment_without_an_account_before_any_other_reason():
    from portyfoul_infra.config import promotion_refusal
    dev, staging, prod = ENVIRONMENTS["dev"], ENVIRONMENTS["staging"], ENVIRONMENTS["prod"]
    assert promotion_refusal(staging, prod).startswith(
        "staging names no AWS account: set account_id for 'staging' in portyfoul_infra/config.py (promote from "
        "staging to prod reads staging's stack, release history and image with prod's credentials, so both must be in "
        "one AWS account)")
    assert promotion_refusal(dev, staging).startswith("staging names no AWS account")
    assert promotion_refusal(dev, replace(staging, account_id=dev.account_id)) == ""
    other = promotion_refusal(dev, replace(staging, account_id="111122223333"))
    assert "live in different accounts" in other and "set staging's promote_from to \"\"" in other
    assert "different accounts" not in promotion_refusal(replace(staging, account_id="111122223333"), prod)
