"""Load test: a locust profile of the mobile app and a headless runner (`python -m ops.load`)."""
