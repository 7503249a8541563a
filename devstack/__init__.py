"""The local stack: AWS emulation, resources from infra/, fake providers, demo data. Never deployed."""
