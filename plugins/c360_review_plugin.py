"""Registers the on-call review page (plugins/c360_review) with the Airflow 3 API server."""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin
from c360_review.app import URL_PREFIX, create_app


class C360ReviewPlugin(AirflowPlugin):
    name = "c360_review"
    fastapi_apps: ClassVar[list[dict]] = [
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Customer 360 on-call review"},
    ]
    # A link in the UI's navigation; the page itself authenticates every request (see app.py).
    external_views: ClassVar[list[dict]] = [{"name": "C360 on-call review", "href": URL_PREFIX.lstrip("/") + "/",
                       "destination": "nav", "category": "browse", "url_route": "c360-review"}]
