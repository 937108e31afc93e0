"""The domain of the noon-meal twin: ids, events, norms, calendar, state columns and kernels.

Nothing here imports Ray, SQLAlchemy, Redis or FastAPI: it is plain Python over numpy and numba.
"""
