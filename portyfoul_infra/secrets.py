"""Secrets and parameters (plan phases 6 and 9).

The template creates every secret; values are managed by the secrets tasks
(secrets_admin.py), never by the template or its parameters. A secret the
template cannot generate starts with PLACEHOLDER_VALUE, which the tooling
detects and refuses to release with.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Sub, Template
from troposphere import secretsmanager, ssm

from .parameters import Params

PLACEHOLDER_VALUE = "PLACEHOLDER-set-me-with-invoke-secrets-set"



def is_placeholder(value: str) -> bool:
    """True for an empty value or one the template created as a placeholder."""
    return not value.strip() or value.startswith(PLACEHOLDER_VALUE.split("-set-")[0])


JWT_SECRET = "JwtSecret"
FINNHUB_SECRET = "FinnhubApiKeySecret"
COINGECKO_SECRET = "CoinGeckoApiKeySecret"
PRICE_INTERVAL_PARAMETER = "PriceUpdateIntervalParameter"
ENVIRONMENT_PARAMETER = "EnvironmentParameter"


@dataclass(frozen=True)
class AppSecret:
    """One application secret as the services see it."""
    short_name: str      # what the user types: `invoke secrets-set finnhub-api-key`
    env_var: str         # what the container sees
    required: bool
    generated: bool
    resource: secretsmanager.Secret


@dataclass(frozen=True)
class ConfigParameter:
    short_name: str
    env_var: str | None  # None: read by operators only
    resource: ssm.Parameter


@dataclass(frozen=True)
class Secrets:
    app_secrets: tuple[AppSecret, ...]
    parameters: tuple[ConfigParameter, ...]


# (logical id, short name, env var, required, generated)
APP_SECRETS = (
    (JWT_SECRET, "jwt-secret", "JWT_SECRET", True, True),
    (FINNHUB_SECRET, "finnhub-api-key", "FINNHUB_API_KEY", True, False),
    (COINGECKO_SECRET, "coingecko-api-key", "COINGECKO_API_KEY", False, False),
)
CONFIG_PARAMETERS = (
    (PRICE_INTERVAL_PARAMETER, "price-update-interval", "PRICE_UPDATE_INTERVAL_MINUTES"),
    (ENVIRONMENT_PARAMETER, "environment", None),
)


def add_secrets(t: Template, p: Params) -> Secrets:
    app_secrets = []
    for logical_id, short, env_var, required, generated in APP_SECRETS:
        kwargs: dict[str, object] = {}
        if generated:
            kwargs["GenerateSecretString"] = secretsmanager.GenerateSecretString(
                PasswordLength=64, ExcludePunctuation=True,
            )
        else:
            kwargs["SecretString"] = PLACEHOLDER_VALUE
        resource = t.add_resource(secretsmanager.Secret(
            logical_id,
            Name=Sub("${ProjectName}/${Environment}/" + short),
            Description=f"{env_var} for the Portyfoul services"
            + ("" if generated else "; set with `invoke secrets-set " + short + "`"),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            **kwargs,
        ))
        app_secrets.append(AppSecret(short, env_var, required, generated, resource))

    values = {PRICE_INTERVAL_PARAMETER: p.PriceUpdateIntervalMinutes, ENVIRONMENT_PARAMETER: p.Environment}
    parameters = []
    for logical_id, short, env_var in CONFIG_PARAMETERS:
        resource = t.add_resource(ssm.Parameter(
            logical_id,
            Name=Sub("/${ProjectName}/${Environment}/" + short),
            Type="String",
            Value=values[logical_id],
            Description=f"Portyfoul {short}; change with `invoke config-set {short} VALUE`",
        ))
        parameters.append(ConfigParameter(short, env_var, resource))
    return Secrets(app_secrets=tuple(app_secrets), parameters=tuple(parameters))
