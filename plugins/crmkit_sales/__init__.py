"""crmkit plugin 'sales' (work in progress)."""

import crmkit

PLUGIN = crmkit.PluginSpec(name="sales", version="0.1.0", description="(in progress)")
