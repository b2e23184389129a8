"""Core behaviour shipped as plugins, registered like any other and always enabled."""

BUILTINS = [
    ("permissions", "crmkit.builtin.permissions"),
    ("lifecycle", "crmkit.builtin.lifecycle"),
    ("terminal", "crmkit.builtin.terminal"),
    ("tasks", "crmkit.builtin.tasks"),
    ("jobs", "crmkit.builtin.jobs"),
]
