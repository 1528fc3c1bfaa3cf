"""One module per area; each exposes COMMANDS = [click commands/groups]."""
