"""Shared test fixtures: crmkit.testing provides crm, crm_factory, cli, today."""
