"""A scripted ECS (and the other clients a release touches) with real response shapes.

Each service follows a script after each UpdateService: a list of steps, one
applied per DescribeServices call, the last repeated. Steps are the ways ECS
deployments really end: complete, keep stopping tasks, circuit-breaker
rollback, replaced by another deployment, never finish.
"""

from __future__ import annotations

import base64
import itertools

import boto3

from .fakes import FakeCloudFormation, FakeParameterStore, client_error

ACCOUNT = "946652103073"
REPO_URI = f"{ACCOUNT}.dkr.ecr.us-east-2.amazonaws.com/portyfoul-dev"
_ids = itertools.count(100)
_real_ecs_meta = boto3.client("ecs", region_name="us-east-2", aws_access_key_id="x", aws_secret_access_key="x").meta


def td_arn(family, rev):
    return f"arn:aws:ecs:us-east-2:{ACCOUNT}:task-definition/{family}:{rev}"


def task_definition(key, rev, tag="v1"):
    family = f"portyfoul-dev-{key}-task"
    secrets = [{"name": "JWT_SECRET", "valueFrom": f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:portyfoul/dev/jwt-secret-AbCdEf"},
               {"name": "FINNHUB_API_KEY", "valueFrom": f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:portyfoul/dev/finnhub-api-key-AbCdEf"},
               {"name": "COINGECKO_API_KEY", "valueFrom": f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:portyfoul/dev/coingecko-api-key-AbCdEf"},
               {"name": "POSTGRES_PASSWORD", "valueFrom": f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:portyfoul/dev/rds/credentials-AbCdEf:password::"}]
    return {
        "taskDefinitionArn": td_arn(family, rev), "family": family, "revision": rev, "status": "ACTIVE",
        "containerDefinitions": [{"name": key, "image": f"{REPO_URI}:{tag}", "essential": True, "secrets": secrets,
                                  "environment": [{"name": "NODE_ENV", "value": "production"}],
                                  "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": f"/ecs/portyfoul-dev-{key}"}}}],
        "cpu": "256", "memory": "512", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec", "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/task",
        "compatibilities": ["EC2", "FARGATE"], "requiresAttributes": [{"name": "x"}],
        "registeredAt": "2026-11-01", "registeredBy": "someone",
    }


# ---- steps: each takes (fake, service, ours) and mutates the service dict

def complete(fake, svc, ours):
    ours.update(rolloutState="COMPLETED", runningCount=ours["desiredCount"], pendingCount=0,
                rolloutStateReason=f"ECS deployment {ours['id']} completed.")
    svc["deployments"] = [ours]


def progress(fake, svc, ours):
    ours.update(runningCount=min(ours["runningCount"] + 1, ours["desiredCount"]))


def stopping(reason, exit_code=1):
    def step(fake, svc, ours):
        ours["failedTasks"] += 1
        task_id = f"t{next(_ids)}"
        fake.stopped_tasks.append({
            "taskArn": f"arn:aws:ecs:us-east-2:{ACCOUNT}:task/portyfoul-dev-cluster/{task_id}",
            "taskDefinitionArn": ours["taskDefinition"], "lastStatus": "STOPPED", "stoppedReason": reason,
            "containers": [{"name": svc["_key"], "exitCode": exit_code, "reason": reason if "exec" in reason else None}],
            "_service": svc["serviceName"]})
        fake.log_lines[f"{svc['_key']}/{svc['_key']}/{task_id}"] = ["booting", "Error: connect ECONNREFUSED"]
        svc["events"].insert(0, {"id": f"ev{next(_ids)}", "message": f"(service {svc['serviceName']}) has started 1 tasks"})
    return step


def circuit_breaker(fake, svc, ours):
    ours.update(rolloutState="FAILED", status="ACTIVE",
                rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.")
    previous = fake.previous[svc["serviceName"]]
    svc["taskDefinition"] = previous
    svc["deployments"] = [{**ours, "id": f"ecs-svc/{next(_ids)}", "status": "PRIMARY", "taskDefinition": previous,
                           "rolloutState": "COMPLETED", "rolloutStateReason": "rolled back", "failedTasks": 0}, ours]


def replaced(fake, svc, ours):
    ours["status"] = "ACTIVE"
    other = {**ours, "id": f"ecs-svc/{next(_ids)}", "status": "PRIMARY",
             "taskDefinition": td_arn(svc["_family"], 99), "rolloutState": "IN_PROGRESS"}
    svc["taskDefinition"] = other["taskDefinition"]
    svc["deployments"] = [other, ours]


def stay(fake, svc, ours):
    pass


def fail(fake, svc, ours):
    ours.update(rolloutState="FAILED", rolloutStateReason="ECS deployment failed: tasks failed to start.")


class FakeEcs:
    def __init__(self, deploy=None, rollback=None, migration=None):
        """deploy/rollback: {"web": [steps], "worker": [steps]}; migration: list of task states or None."""
        self.meta = _real_ecs_meta
        self.scripts = {"deploy": deploy or {}, "rollback": rollback or {}, "restart": deploy or {}}
        self.task_definitions = {}
        self.services = {}
        self.previous = {}
        self.pending = {}
        self.calls = []
        self.stopped_tasks = []
        self.log_lines = {}
        self.migration = list(migration) if migration is not None else [
            {"lastStatus": "PENDING"}, {"lastStatus": "RUNNING"}, {"lastStatus": "STOPPED", "exitCode": 0}]
        for key in ("web", "worker"):
            td = task_definition(key, 1)
            self.task_definitions[td["taskDefinitionArn"]] = td
            name = f"portyfoul-dev-{key}-service"
            self.services[name] = {
                "serviceName": name, "status": "ACTIVE", "taskDefinition": td["taskDefinitionArn"],
                "desiredCount": 2 if key == "web" else 1, "runningCount": 2 if key == "web" else 1, "pendingCount": 0,
                "events": [{"id": "old-event", "message": "an old event"}], "_key": key, "_family": td["family"],
                "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"],
                                                                 "assignPublicIp": "DISABLED"}},
                "deploymentConfiguration": {"alarms": {"enable": True, "rollback": True, "alarmNames": (
                    ["portyfoul-dev-web-5xx", "portyfoul-dev-web-unhealthy-targets"] if key == "web"
                    else ["portyfoul-dev-worker-not-running"])}},
                "deployments": [{"id": f"ecs-svc/{next(_ids)}", "status": "PRIMARY", "taskDefinition": td["taskDefinitionArn"],
                                 "desiredCount": 2 if key == "web" else 1, "runningCount": 2 if key == "web" else 1,
                                 "pendingCount": 0, "failedTasks": 0, "rolloutState": "COMPLETED"}],
            }

    def _record(self, name, **kw):
        self.calls.append((name, kw))

    def called(self, name):
        return [kw for n, kw in self.calls if n == name]

    def primary(self, key):
        svc = self.services[f"portyfoul-dev-{key}-service"]
        return next(d for d in svc["deployments"] if d["status"] == "PRIMARY")

    def _public(self, svc):
        return {k: v for k, v in svc.items() if not k.startswith("_")}

    # --- API
    def describe_services(self, cluster, services):
        self._record("describe_services", services=services)
        out = []
        for name in services:
            svc = self.services.get(name)
            if svc is None:
                continue
            steps = self.pending.get(name)
            if steps:
                ours = next((d for d in svc["deployments"] if d["id"] == svc["_ours"]), None)
                step = steps.pop(0) if len(steps) > 1 else steps[0]
                if ours is not None:
                    step(self, svc, ours)
            out.append(self._public(svc))
        return {"services": out, "failures": []}

    def describe_task_definition(self, taskDefinition, include=None):
        td = self.task_definitions[taskDefinition]
        return {"taskDefinition": dict(td), "tags": [{"key": "Project", "value": "portyfoul"}]}

    def register_task_definition(self, **kw):
        self._record("register_task_definition", **kw)
        family = kw["family"]
        rev = 1 + max(t["revision"] for t in self.task_definitions.values() if t["family"] == family)
        td = {**kw, "taskDefinitionArn": td_arn(family, rev), "revision": rev, "status": "ACTIVE"}
        td.pop("tags", None)
        self.task_definitions[td["taskDefinitionArn"]] = td
        return {"taskDefinition": td}

    def update_service(self, cluster, service, taskDefinition=None, forceNewDeployment=False):
        taskDefinition = taskDefinition or self.services[service]["taskDefinition"]
        self._record("update_service", service=service, taskDefinition=taskDefinition)
        svc = self.services[service]
        kind = "rollback" if service in self.previous and taskDefinition == self.previous[service] else "deploy"
        if forceNewDeployment:
            kind = "restart"
        if kind == "deploy":
            self.previous[service] = svc["taskDefinition"]
        for d in svc["deployments"]:
            d["status"] = "ACTIVE"
        ours = {"id": f"ecs-svc/{next(_ids)}", "status": "PRIMARY", "taskDefinition": taskDefinition,
                "desiredCount": svc["desiredCount"], "runningCount": 0, "pendingCount": svc["desiredCount"],
                "failedTasks": 0, "rolloutState": "IN_PROGRESS", "rolloutStateReason": "in progress"}
        svc["deployments"].insert(0, ours)
        svc["taskDefinition"] = taskDefinition
        svc["_ours"] = ours["id"]
        self.pending[service] = list(self.scripts[kind].get(svc["_key"], [complete]))
        return {"service": self._public(svc)}

    def list_task_definitions(self, familyPrefix, status="ACTIVE", sort="DESC", nextToken=None):
        arns = [a for a, t in self.task_definitions.items() if t["family"] == familyPrefix and t["status"] == status]
        return {"taskDefinitionArns": arns}

    def deregister_task_definition(self, taskDefinition):
        self._record("deregister_task_definition", taskDefinition=taskDefinition)
        self.task_definitions[taskDefinition]["status"] = "INACTIVE"
        return {"taskDefinition": self.task_definitions[taskDefinition]}

    def list_tasks(self, cluster, serviceName, desiredStatus):
        return {"taskArns": [t["taskArn"] for t in self.stopped_tasks if t["_service"] == serviceName]}

    def describe_tasks(self, cluster, tasks):
        if tasks and tasks[0].endswith("/migration"):
            state = self.migration.pop(0) if len(self.migration) > 1 else self.migration[0]
            task = {"taskArn": tasks[0], "lastStatus": state["lastStatus"], "stoppedReason": "Essential container exited"}
            if "exitCode" in state:
                task["containers"] = [{"name": "web", "exitCode": state["exitCode"]}]
            return {"tasks": [task]}
        return {"tasks": [{k: v for k, v in t.items() if not k.startswith("_")} for t in self.stopped_tasks
                          if t["taskArn"] in tasks]}

    def run_task(self, **kw):
        self._record("run_task", **kw)
        return {"tasks": [{"taskArn": f"arn:aws:ecs:us-east-2:{ACCOUNT}:task/portyfoul-dev-cluster/migration"}],
                "failures": []}

    def stop_task(self, **kw):
        self._record("stop_task", **kw)


class FakeSecrets:
    def __init__(self, values=None):
        self.values = values or {}

    def get_secret_value(self, SecretId):
        for name, value in self.values.items():
            if f":secret:{name}-" in SecretId or SecretId == name:
                if value is None:
                    break
                return {"SecretString": value}
        raise client_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")


class FakeSsm(FakeParameterStore):
    """The config parameters the task definitions read, and a writable store (the release history, the lock)."""

    def get_parameters(self, Names, WithDecryption=False):
        """The config parameters all exist (value 15); what the tools wrote is read back (the release history)."""
        written = super().get_parameters(Names)
        config = [n for n in Names if n not in self.store and "/release-history" not in n]
        return {"Parameters": written["Parameters"] + [{"Name": n, "Value": "15", "Type": "String"} for n in config],
                "InvalidParameters": [n for n in written["InvalidParameters"] if n not in config]}


class FakeEcr:
    def __init__(self, tags=("v2",)):
        self.tags = set(tags)

    def describe_images(self, repositoryName, imageIds):
        tag = imageIds[0]["imageTag"]
        if tag not in self.tags:
            raise client_error("ImageNotFoundException", f"The image with imageId {{imageTag:'{tag}'}} does not exist")
        return {"imageDetails": [{"imageDigest": "sha256:" + "ab" * 32, "imageTags": [tag]}]}

    def get_authorization_token(self):
        token = base64.b64encode(b"AWS:s3cr3t-registry-password").decode()
        return {"authorizationData": [{"authorizationToken": token,
                                       "proxyEndpoint": f"https://{ACCOUNT}.dkr.ecr.us-east-2.amazonaws.com"}]}


class FakeLogs:
    def __init__(self, ecs: FakeEcs):
        self.ecs = ecs

    def get_log_events(self, logGroupName, logStreamName, startFromHead=False, limit=None, nextToken=None):
        """Real paging: the forward token marks what was read; a read with it returns only newer lines."""
        lines = self.ecs.log_lines.get(logStreamName)
        if lines is None:
            raise client_error("ResourceNotFoundException", "The specified log stream does not exist.")
        start = int(nextToken.split("/")[1]) if nextToken else 0
        if limit and not startFromHead:
            start = max(start, len(lines) - limit)
        return {"events": [{"timestamp": 0, "message": m} for m in lines[start:]],
                "nextForwardToken": f"f/{len(lines)}"}


def stack_outputs():
    return {"ClusterName": "portyfoul-dev-cluster", "RepositoryUri": REPO_URI, "RepositoryName": "portyfoul-dev",
            "WebServiceName": "portyfoul-dev-web-service", "WorkerServiceName": "portyfoul-dev-worker-service",
            "WebLogGroupName": "/ecs/portyfoul-dev-web", "WorkerLogGroupName": "/ecs/portyfoul-dev-worker"}


SET_SECRETS = {"portyfoul/dev/jwt-secret": "j" * 40, "portyfoul/dev/finnhub-api-key": "finnhub-real-key",
               "portyfoul/dev/coingecko-api-key": "cg-real-key", "portyfoul/dev/rds/credentials": '{"password": "p"}'}


class FakeRds:
    """Snapshots that are available at once (or stay `creating` with stuck=True)."""

    def __init__(self, stuck=False):
        self.snapshots: dict[str, dict] = {}
        self.stuck = stuck
        self.calls: list[str] = []

    def create_db_snapshot(self, DBSnapshotIdentifier, DBInstanceIdentifier, Tags=()):
        self.calls.append("create_db_snapshot")
        self.snapshots[DBSnapshotIdentifier] = {"DBSnapshotIdentifier": DBSnapshotIdentifier,
                                                "DBInstanceIdentifier": DBInstanceIdentifier,
                                                "Status": "creating" if self.stuck else "available"}
        return {"DBSnapshot": self.snapshots[DBSnapshotIdentifier]}

    def describe_db_snapshots(self, DBSnapshotIdentifier):
        return {"DBSnapshots": [self.snapshots[DBSnapshotIdentifier]]}


class FakeCloudWatch:
    """Alarms by name and state, as DescribeAlarms reports them."""

    def __init__(self, states=None):
        self.states = dict(states or {})

    def describe_alarms(self, AlarmNames, StateValue=None):
        return {"MetricAlarms": [
            {"AlarmName": n, "StateValue": self.states[n], "StateReason": f"Threshold Crossed: {n} breached"}
            for n in AlarmNames if n in self.states and (StateValue is None or self.states[n] == StateValue)]}


def alarm_rollback(fake, svc, ours):
    """ECS rolls the deployment back because one of its deployment alarms went into ALARM."""
    circuit_breaker(fake, svc, ours)
    ours["rolloutStateReason"] = "ECS deployment rolled back: deployment alarm(s) portyfoul-dev-web-5xx in ALARM."


def release_clients(ecs=None, secrets=None, ecr=None, alarms=None, rds=None):
    from .fakes import FakeAws
    ecs = ecs or FakeEcs()
    return FakeAws(cloudformation=FakeCloudFormation(outputs=stack_outputs()), ecs=ecs,
                   secretsmanager=FakeSecrets(SET_SECRETS if secrets is None else secrets), ssm=FakeSsm(),
                   ecr=ecr or FakeEcr(), logs=FakeLogs(ecs), cloudwatch=FakeCloudWatch(alarms), rds=rds or FakeRds())
