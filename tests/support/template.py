"""Small readers over a rendered template."""

from portyfoul_infra.cfn_template import referenced_ids as refs_in  # noqa: F401  (the one reference walker)


def of_type(resources: dict, type_: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def props(resources: dict, logical_id: str) -> dict:
    return resources[logical_id]["Properties"]



def two_service_groups(live_template: dict) -> dict:
    """The live stand-in with a second security group on the web service, a copy of the first: identity alone
    cannot tell which one is our ServiceSecurityGroup."""
    import json
    live = json.loads(json.dumps(live_template))
    live["Resources"]["ECSSecurityGroup2"] = json.loads(json.dumps(live["Resources"]["ECSSecurityGroup"]))
    awsvpc = live["Resources"]["PortyfoulWebService"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    awsvpc["SecurityGroups"].append({"Ref": "ECSSecurityGroup2"})
    return live
