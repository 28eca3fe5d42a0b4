"""Which warehouse dbt builds, and the Cosmos profile for it.

DuckDB reads dbt/profiles.yml (target dev). Snowflake builds the profile from an Airflow connection
with Cosmos' Snowflake profile mappings; which mapping (password, private key content, private key
file) is decided from the connection when a task runs, because the DAG file must not read
connections while it is parsed.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from cosmos import ProfileConfig
from cosmos.profiles import BaseProfileMapping
from cosmos.profiles.snowflake.user_pass import SnowflakeUserPasswordProfileMapping
from cosmos.profiles.snowflake.user_privatekey import SnowflakePrivateKeyPemProfileMapping
from cosmos.profiles.snowflake.user_privatekey_file import SnowflakePrivateKeyFilePemProfileMapping

from include import settings
from include.orchestration import cosmos_patches

PROFILE_NAME = "c360"
DBT_TARGETS = {"duckdb": "dev", "snowflake": "prod"}

# Where each dbt profile field lives on an Airflow Snowflake connection, for error messages.
CONNECTION_FIELDS = {
    "account": 'extra "account"',
    "user": "login",
    "password": "password",
    "database": 'extra "database"',
    "warehouse": 'extra "warehouse"',
    "schema": "schema",
    "role": 'extra "role"',
    "private_key": 'extra "private_key_content"',
    "private_key_path": 'extra "private_key_file"',
}


# dbt-snowflake profile fields taken from the connection's extras as they are.
ENDPOINT_EXTRAS = ("host", "port", "protocol", "connect_timeout")


class SnowflakeConnectionError(ValueError):
    """The Airflow connection cannot build a Snowflake profile; the message names connection and field."""


def _extra(conn: Any) -> dict[str, Any]:
    extra = dict(conn.extra_dejson or {})
    # Connections made by older UIs prefix every extra key.
    return {key.replace("extra__snowflake__", ""): value for key, value in extra.items()}


def mapping_class(conn: Any) -> type[BaseProfileMapping]:
    """The Cosmos mapping for this connection's authentication: key pair when a key is set, else password."""
    extra = _extra(conn)
    if extra.get("private_key_content"):
        return SnowflakePrivateKeyPemProfileMapping
    if extra.get("private_key_file"):
        return SnowflakePrivateKeyFilePemProfileMapping
    return SnowflakeUserPasswordProfileMapping


def check_connection(conn_id: str, conn: Any, mapping: BaseProfileMapping) -> None:
    """Raise SnowflakeConnectionError naming every field the profile needs and the connection lacks."""
    if conn.conn_type != "snowflake":
        raise SnowflakeConnectionError(
            f"Airflow connection {conn_id!r} has type {conn.conn_type!r}; the snowflake target needs a "
            "connection of type 'snowflake'"
        )
    missing = [field for field in mapping.required_fields if not mapping.get_dbt_value(field)]
    if missing:
        where = ", ".join(f"{field} (connection field {CONNECTION_FIELDS.get(field, field)})" for field in missing)
        raise SnowflakeConnectionError(
            f"Airflow connection {conn_id!r} lacks {where}; {mapping.__class__.__name__} needs "
            f"{', '.join(mapping.required_fields)}. Set them on the connection (README: Snowflake)."
        )


class SnowflakeConnectionProfileMapping(BaseProfileMapping):
    """Delegates to the Cosmos Snowflake mapping that fits the connection, after checking its fields.

    Cosmos asks a mapping for its profile only when a task runs (the DAG renders from the manifest),
    so the connection is read, and checked, at task run time, never at parse time.
    """

    airflow_connection_type = "snowflake"
    dbt_profile_type = "snowflake"
    # What every Snowflake mapping needs; used for Cosmos' mock profile only.
    required_fields: ClassVar[list[str]] = ["account", "user", "database", "warehouse", "schema"]

    def __init__(self, conn_id: str, profile_args: dict[str, Any] | None = None) -> None:
        super().__init__(conn_id, profile_args=profile_args)
        self._delegate: BaseProfileMapping | None = None

    def delegate(self) -> BaseProfileMapping:
        if self._delegate is None:
            try:
                conn = self.conn
            except Exception as exc:  # Airflow raises its own not-found type, which differs by version
                raise SnowflakeConnectionError(
                    f"Airflow connection {self.conn_id!r} cannot be read ({exc}); create it (README: Snowflake) "
                    "or set C360_SNOWFLAKE_CONN_ID to the connection to use"
                ) from exc
            mapping = mapping_class(conn)(self.conn_id, profile_args=self.profile_args)
            cosmos_patches.adopt_connection(mapping, conn)
            check_connection(self.conn_id, mapping.conn, mapping)
            self._delegate = mapping
        return self._delegate

    @property
    def profile(self) -> dict[str, Any]:
        # An endpoint other than <account>.snowflakecomputing.com (a private link, the local emulator)
        # is the connection's host/port/protocol extras; Cosmos' mappings leave them out.
        extra = _extra(self.delegate().conn)
        endpoint = {key: extra[key] for key in ENDPOINT_EXTRAS if extra.get(key) not in (None, "")}
        return {**self.delegate().profile, **endpoint}

    @property
    def env_vars(self) -> dict[str, str]:
        return self.delegate().env_vars


def profile_args() -> dict[str, Any]:
    """Profile settings the connection does not carry."""
    return {"threads": int(os.environ.get("C360_SNOWFLAKE_THREADS", "8"))}


def profile_config(target: str | None = None) -> ProfileConfig:
    target = target or settings.target_name()
    if target == "snowflake":
        return ProfileConfig(
            profile_name=PROFILE_NAME,
            target_name=DBT_TARGETS[target],
            profile_mapping=SnowflakeConnectionProfileMapping(settings.snowflake_conn_id(), profile_args()),
        )
    return ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=DBT_TARGETS[target],
        profiles_yml_filepath=settings.DBT_PROJECT_DIR / "profiles.yml",
    )


def dbt_env_vars(target: str | None = None) -> dict[str, str]:
    """Environment of every dbt invocation. Cosmos runs dbt from a copy of the project, so the
    warehouse path must be absolute."""
    target = target or settings.target_name()
    env = {"C360_DBT_TARGET": DBT_TARGETS[target]}
    if target == "duckdb":
        env["C360_DUCKDB_PATH"] = str(settings.duckdb_path())
    else:
        # Unit tests check model logic on fixed inputs: they run on DuckDB in development and CI, and
        # production builds skip them (dbt's advice; they would only spend warehouse credits).
        env["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test"
    return env


def check_requested_target(requested: str | None) -> None:
    """A run's `target` param must be the deployed target: the dbt task groups and their profile were
    rendered for it when the DAG file was parsed, so a run cannot switch warehouse."""
    deployed = settings.target_name()
    if requested and requested != deployed:
        raise ValueError(
            f"param target={requested!r} does not match this deployment's target {deployed!r} (C360_TARGET); "
            f"the DAG was rendered for {deployed}. Set C360_TARGET={requested} on the deployment to build {requested}."
        )

