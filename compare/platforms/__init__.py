"""Simulated platforms: each takes arrival times and service-time distributions and yields run records."""
