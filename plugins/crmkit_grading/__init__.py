"""crmkit plugin 'grading' (work in progress)."""

import crmkit

PLUGIN = crmkit.PluginSpec(name="grading", version="0.1.0", description="(in progress)")
