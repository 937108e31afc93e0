"""The API: Ray Serve deployments with a FastAPI ingress. Thin: endpoints call services."""
