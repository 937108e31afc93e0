"""The dashboard: the web application served at `/` (static assets in `static/`) and the compact
reads its map needs under `/api/v1/dashboard`."""
