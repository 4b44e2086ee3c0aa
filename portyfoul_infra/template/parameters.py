"""Stack parameters: the per-environment values, declared once.

One template serves every environment; what differs reaches it as parameters
whose values come from `config.Environment`. The catalogue itself lives in
`contract.STACK_PARAMETERS`, since stack-update passes the values without
loading the template code. The image tags are parameters too, but their
values come from what is released (see aws/updates.py: current_image_tags).
"""

from __future__ import annotations

from troposphere import Equals, Parameter, Ref, Template

from ..config import Environment
from ..contract import BOOTSTRAP, STACK_PARAMETERS, parameter_text

BOOTSTRAPPING = "Bootstrapping"  # the condition on the Bootstrap parameter


class Params:
    """Attribute access to the template's parameters: `params.DBInstanceClass` is a Ref."""

    def __init__(self, parameters: dict[str, Parameter]):
        self._parameters = parameters

    def __getattr__(self, name: str) -> Ref:
        try:
            return Ref(self._parameters[name])
        except KeyError:
            raise AttributeError(f"no stack parameter {name}") from None


def add_parameters(t: Template, dev: Environment) -> Params:
    """Declare every parameter; defaults are dev's values so lint sees a real stack."""
    declared: dict[str, Parameter] = {}
    groups: dict[str, list[str]] = {}
    for spec in STACK_PARAMETERS:
        kwargs: dict[str, object] = {"Type": spec.type, "Description": spec.description}
        default = spec.default if spec.value is None else parameter_text(spec.value(dev))
        if default is not None:
            kwargs["Default"] = default
        if spec.allowed:
            kwargs["AllowedValues"] = list(spec.allowed)
        declared[spec.name] = t.add_parameter(Parameter(spec.name, **kwargs))
        groups.setdefault(spec.group, []).append(spec.name)
    t.add_condition(BOOTSTRAPPING, Equals(Ref(declared[BOOTSTRAP]), "true"))
    t.set_metadata({
        "AWS::CloudFormation::Interface": {
            "ParameterGroups": [{"Label": {"default": g}, "Parameters": names} for g, names in groups.items()],
        }
    })
    return Params(declared)
