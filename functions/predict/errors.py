"""Domain errors that carry their HTTP status; `app.py` maps them to responses in one place."""

from __future__ import annotations


class PredictError(Exception):
    """An error whose message is safe to show the client."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PredictError):
    status_code = 400


class ModelNotFound(PredictError):
    status_code = 404


class PayloadTooLarge(PredictError):
    status_code = 413


class UnsupportedMediaType(PredictError):
    status_code = 415


class InvalidInput(PredictError):
    status_code = 422


class ModelNotReady(PredictError):
    status_code = 503


class InferenceFailed(PredictError):
    """The model raised on input that passed validation; the cause is chained, not shown."""

    status_code = 500


class ArtifactError(Exception):
    """The model artifact cannot be served: missing, tampered with, or from another scikit-learn."""
