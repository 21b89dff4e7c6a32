"""The dashboard page: HTML, JavaScript and CSS served by mockdrive.api.dashboard."""
