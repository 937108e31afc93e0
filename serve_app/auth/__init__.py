"""Security primitives: password hashing, signed tokens and their revocation, TOTP, API keys, rate
limiting and login lockout. Pure building blocks with no routes and no database: the API wires them."""
