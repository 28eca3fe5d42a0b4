"""The review page's FastAPI app, mounted by the API server under URL_PREFIX.

Airflow does not authenticate plugin apps (a mounted app inherits none of the core API's
dependencies), so every route here depends on Airflow's own check: a valid JWT (Bearer header or the
UI's _token cookie) of a user allowed to read customer_360's runs."""

from __future__ import annotations

import os
from html import escape

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

URL_PREFIX = "/c360-review"


def _authorized() -> list:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return [Depends(requires_access_dag("GET", DagAccessEntity.RUN, "customer_360"))]


def create_app() -> FastAPI:
    app = FastAPI(title="Customer 360 on-call review", dependencies=_authorized(), docs_url=None, redoc_url=None,
                  openapi_url=None)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> HTMLResponse:
        # A person in a browser gets a way to log in; the status stays what Airflow decided.
        login = f"/auth/login?next={URL_PREFIX}/"
        return HTMLResponse(f'<p>{exc.detail}. <a href="{login}">Log in to Airflow</a> first.</p>',
                            status_code=exc.status_code)

    @app.get("/", response_class=HTMLResponse)
    def review(request: Request, run_id: str | None = None, user_main_id: str | None = None,
               id_value: str | None = Query(None, alias="id", max_length=512), other_id: str | None = Query(
                   None, max_length=512), id_type: str | None = None, other_id_type: str | None = None
               ) -> HTMLResponse:
        from c360_review.page import render
        from c360_review.queries import PathRequest, graph_max_ids, load
        from include.orchestration.pipeline_config import load_pipeline_config
        from include.warehouse import warehouse_location
        from include.warehouse.duckdb_file import WarehouseUnavailable

        try:
            # An empty form submits empty values; one id without the other gets the investigation's message.
            path = (PathRequest(id_value or "", other_id or "", id_type or None, other_id_type or None)
                    if (id_value or "").strip() or (other_id or "").strip() else None)
            data = load(run_id, user_main_id=user_main_id, max_graph_ids=graph_max_ids(dict(os.environ)), path=path)
        except WarehouseUnavailable as exc:
            return HTMLResponse(f"<h1>Customer 360 on-call review</h1><p>{escape(str(exc))}</p>", status_code=503)
        except Exception as exc:
            # Snowflake unreachable or refusing the login: say so, as for a locked DuckDB file.
            if not type(exc).__module__.startswith("snowflake.connector"):
                raise
            return HTMLResponse(f"<h1>Customer 360 on-call review</h1><p>cannot read {escape(warehouse_location())}: "
                                f"{escape(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}</p>",
                                status_code=503)
        html = render(data, f"{URL_PREFIX}/", load_pipeline_config().gate, warehouse_location())
        return HTMLResponse(html)

    return app
