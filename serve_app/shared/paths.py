"""Where the API lives: every versioned route is under this prefix."""

API = "/api/v1"
