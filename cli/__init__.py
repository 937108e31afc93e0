"""The `mealtwin` command line: a composition root like `serve_app`, for operators."""
