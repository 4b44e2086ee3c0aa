"""Secrets and parameters (plan phases 6 and 9).

The template creates every secret; values are managed by the secrets verbs
(verbs/secrets.py), never by the template or its parameters. A secret the
template cannot generate starts with the contract's PLACEHOLDER_VALUE, which
the tooling detects and refuses to release with. The catalogue (names, env
vars, required or not) is the contract's; this module only makes resources.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Sub, Template, secretsmanager, ssm

from ..contract import APP_SECRETS, CONFIG_PARAMETERS, PLACEHOLDER_VALUE, AppSecret, ConfigParameter
from .parameters import Params


@dataclass(frozen=True)
class SecretResource:
    spec: AppSecret
    resource: secretsmanager.Secret

    @property
    def env_var(self) -> str:
        return self.spec.env_var


@dataclass(frozen=True)
class ParameterResource:
    spec: ConfigParameter
    resource: ssm.Parameter

    @property
    def env_var(self) -> str | None:
        return self.spec.env_var


@dataclass(frozen=True)
class Secrets:
    app_secrets: tuple[SecretResource, ...]
    parameters: tuple[ParameterResource, ...]


def add_secrets(t: Template, p: Params) -> Secrets:
    app_secrets = []
    for spec in APP_SECRETS:
        kwargs: dict[str, object] = {}
        if spec.generated:
            kwargs["GenerateSecretString"] = secretsmanager.GenerateSecretString(
                PasswordLength=64, ExcludePunctuation=True,
            )
        else:
            kwargs["SecretString"] = PLACEHOLDER_VALUE
        resource = t.add_resource(secretsmanager.Secret(
            spec.logical_id,
            Name=Sub("${ProjectName}/${Environment}/" + spec.short_name),
            Description=f"{spec.env_var} for the Portyfoul services"
            + ("" if spec.generated else "; set with `invoke secrets-set " + spec.short_name + "`"),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            **kwargs,
        ))
        app_secrets.append(SecretResource(spec, resource))

    parameters = []
    for setting in CONFIG_PARAMETERS:
        parameter = t.add_resource(ssm.Parameter(
            setting.logical_id,
            Name=Sub("/${ProjectName}/${Environment}/" + setting.short_name),
            Type="String",
            Value=getattr(p, setting.stack_parameter),
            Description=f"Portyfoul {setting.short_name}; change with `invoke config-set {setting.short_name} VALUE`",
        ))
        parameters.append(ParameterResource(setting, parameter))
    return Secrets(app_secrets=tuple(app_secrets), parameters=tuple(parameters))
