"""The Snowflake connection every reader and loader uses: the provider's hook, plus the connector
options the hook leaves out (the endpoint's protocol and the client's timeouts). Without timeouts the
connector retries a failing endpoint for many minutes before a task sees an error."""

from __future__ import annotations

from typing import Any

from include import settings

# Connection extras passed to snowflake.connector.connect as they are, when set.
CONNECTOR_EXTRAS = ("protocol", "login_timeout", "network_timeout", "socket_timeout")


def snowflake_hook() -> Any:
    from airflow.providers.snowflake.hooks.snowflake import SnowflakeHook

    class C360SnowflakeHook(SnowflakeHook):
        def _get_conn_params(self) -> dict[str, Any]:
            params = super()._get_conn_params()
            extra = self.get_connection(self.get_conn_id()).extra_dejson
            params.update({key: extra[key] for key in CONNECTOR_EXTRAS if extra.get(key) not in (None, "")})
            return params

    # A timestamp without an offset is UTC, as on DuckDB.
    return C360SnowflakeHook(snowflake_conn_id=settings.snowflake_conn_id(), session_parameters={"TIMEZONE": "UTC"})
