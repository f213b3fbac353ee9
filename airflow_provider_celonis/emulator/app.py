"""Build the emulator's ASGI app: token endpoint, API modules, control API, fault middleware."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_celonis import __version__
from airflow_provider_celonis.emulator import control, oauth, problems
from airflow_provider_celonis.emulator.apis import API_MODULES
from airflow_provider_celonis.emulator.faults.core import FaultMiddleware
from airflow_provider_celonis.emulator.stores.state import EmulatorState, Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    initializers = [m.init_state for m in API_MODULES if hasattr(m, "init_state")]
    state = EmulatorState(settings, initializers)
    app = FastAPI(
        title="Celonis emulator (airflow-provider-celonis)",
        version=__version__,
        docs_url="/_emulator/docs",
        openapi_url="/_emulator/openapi.json",
        redoc_url=None,
    )
    app.state.emulator = state
    app.include_router(oauth.router)
    app.include_router(control.router)
    for module in API_MODULES:
        app.include_router(module.router)
    app.add_exception_handler(oauth.AccessRefused, oauth.refused)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return problems.not_found_path(request.url.path)
        if exc.status_code == 405:
            return problems.problem(405, f"Method {request.method} not allowed", "GENERAL_METHOD_NOT_ALLOWED")
        return problems.problem(exc.status_code, str(exc.detail), "GENERAL_ERROR")

    async def validation_error(request: Request, exc: Exception) -> Response:
        return problems.bad_parameter(str(exc)[:500])

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(FaultMiddleware, state=state)
    return app
