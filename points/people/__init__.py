"""Members and communities: registration, passwords, login codes, API tokens, a member's own data and notices."""
