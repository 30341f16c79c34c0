"""Serving trained runs over HTTP: the app (app.py), the batched-stream scheduler
(scheduler.py, rows.py), stop strings (stops.py), request schemas and errors, and the web
page (static/). Needs the `serve` extra (FastAPI, uvicorn)."""
