"""The services of the app a request reached: opened at startup, absent while it starts."""

from fastapi import Request

from twin.errors import Unavailable


def services_of(request: Request):  # noqa: ANN201 - startup.services.Services (importing it here would be circular)
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise Unavailable("the twin is still starting; try again shortly")
    return services
