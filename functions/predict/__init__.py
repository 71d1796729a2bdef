"""twinserve's prediction handler: one FastAPI app served by uvicorn and by AWS Lambda (Mangum)."""

from __future__ import annotations

__version__ = "0.1.0"
