"""Renderers: turn a plan into PowerShell runbooks, workbooks, reports and JSON."""
