"""The REST API at /api/: the same services and selectors as the web UI, behind token or
session authentication and the roles' permissions."""
