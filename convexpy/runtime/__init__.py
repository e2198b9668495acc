"""Running user functions: registry, module loader, ctx objects and the executor."""
