"""Errors as each dialect spells them. Domain errors and HTTP-level errors meet here."""

from __future__ import annotations

from aiohttp import web

from ..model import errors as model_errors
from ..model import scopes, uploads
from .jsonio import fast_json_response


class ApiError(Exception):
    """An HTTP-level refusal that is not the model's business (bad route, method, body size)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        inner_code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner_code = inner_code
        self.headers = headers or {}


GRAPH_STATUS: dict[type[model_errors.DomainError], tuple[int, str]] = {
    model_errors.Unauthenticated: (401, "unauthenticated"),
    model_errors.InvalidRequest: (400, "invalidRequest"),
    model_errors.NotFound: (404, "itemNotFound"),
    model_errors.AccessDenied: (403, "accessDenied"),
    model_errors.NotAllowed: (403, "notAllowed"),
    model_errors.NameConflict: (409, "nameAlreadyExists"),
    model_errors.PreconditionFailed: (412, "resourceModified"),
    uploads.QuotaExceeded: (507, "quotaLimitReached"),  # a full drive
    scopes.DelegatedOnly: (400, "BadRequest"),  # Graph's gateway, not OneDrive
    scopes.DirectoryDenied: (403, "Authorization_RequestDenied"),  # the directory's
}


def as_api_error(error: Exception) -> ApiError:
    if isinstance(error, ApiError):
        return error
    if isinstance(error, model_errors.InjectedFault):
        return ApiError(error.status, error.code, error.message)
    if isinstance(error, model_errors.DomainError):
        status, code = GRAPH_STATUS[type(error)]
        return ApiError(status, code, error.message, error.inner_code)
    return ApiError(500, "generalException", "An unexpected error occurred.")


def onedrive_error_response(error: ApiError) -> web.Response:
    """The older OneDrive API's envelope: ``{"error": {code, message, innererror {code}}}``."""
    inner = {"code": error.inner_code or error.code}
    body = {"error": {"code": error.code, "message": error.message, "innererror": inner}}
    return fast_json_response(body, status=error.status, headers=error.headers)


def onehub_error_response(error: ApiError) -> web.Response:
    """Onehub's: ``{"error": "invalid_token"}`` for 401, else a Rails ``errors`` hash."""
    if error.status == 401:
        return fast_json_response({"error": "invalid_token"}, status=401, headers=error.headers)
    message = "Not found" if error.status == 404 else error.message
    return fast_json_response(
        {"errors": {"base": [message]}}, status=error.status, headers=error.headers
    )


def graph_error_response(
    error: ApiError, request_id: str, date: str, client_request_id: str | None
) -> web.Response:
    """Graph's envelope: ``{"error": {code, message, innerError {date, request-id, ...}}}``."""
    inner: dict[str, str] = {"date": date, "request-id": request_id}
    if client_request_id:
        inner["client-request-id"] = client_request_id
    if error.inner_code:
        inner["code"] = error.inner_code
    body = {"error": {"code": error.code, "message": error.message, "innerError": inner}}
    return fast_json_response(body, status=error.status, headers=error.headers)
