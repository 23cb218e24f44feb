"""Data sources: each module fetches raw bytes into the store and parses them into tidy frames."""
