"""Small readers over a rendered template."""

from portyfoul_infra.cfn_template import referenced_ids as refs_in  # noqa: F401  (the one reference walker)


def of_type(resources: dict, type_: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def props(resources: dict, logical_id: str) -> dict:
    return resources[logical_id]["Properties"]

