-- The room's state (expired matches sent back first). No arguments.
return finish()
