"""Security primitives: password hashing, signed tokens and their revocation, TOTP, API keys, rate
limiting, login lockout, the edge middleware and the route guard. The accounts service
(`serve_app.accounts`) keeps users and keys in the database; the shared state (revocations, rate
windows) lives in Redis (`adapters`) or the `access-state` actor (`actors.access_state`)."""
