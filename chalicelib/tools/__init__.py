"""Operator commands (run with the stage's AWS credentials, or against the local stack)."""
