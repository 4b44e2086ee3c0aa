"""Small readers over a rendered template."""


def of_type(resources: dict, type_: str) -> dict:
    return {k: v for k, v in resources.items() if v["Type"] == type_}


def props(resources: dict, logical_id: str) -> dict:
    return resources[logical_id]["Properties"]


def refs_in(value) -> set[str]:
    """Every logical id referenced (Ref, GetAtt, ${X} in Sub) anywhere inside value."""
    import re
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(v, list):
                    found |= refs_in(v[1])
            else:
                found |= refs_in(v)
    elif isinstance(value, list):
        for v in value:
            found |= refs_in(v)
    return found
