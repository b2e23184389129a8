"""crmkit plugin 'email' (work in progress)."""

import crmkit

PLUGIN = crmkit.PluginSpec(name="email", version="0.1.0", description="(in progress)")
