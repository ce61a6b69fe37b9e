"""Pages for people: patient education (and, in development mode, the sandbox)."""
