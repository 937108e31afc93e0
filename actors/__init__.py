"""Ray actors hosting the twins. Classes here are plain Python; `actors.remote` wraps them for Ray,
and every `ray.*` call of the project lives in this package."""
