"""Checks of the inventory: rules over the loaded inventory that produce findings.

Checks that need the plan (the relay checks judge the planned connectors) live in
the planning layer, :mod:`migrator.plan.relay_checks`; nothing here imports
:mod:`migrator.plan`.
"""
