"""crmkit plugin 'csv' (work in progress)."""

import crmkit

PLUGIN = crmkit.PluginSpec(name="csv", version="0.1.0", description="(in progress)")
