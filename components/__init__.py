"""Pulumi components of the awaterra stack: one module per ComponentResource.

`settings` reads and validates the stack configuration; the other modules never read config.
"""
