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
