"""The testing surface of mockdrive: what the pytest plugin and the fixture handle share.

Nothing is re-exported here: import the submodules (a package ``__init__`` that imports its
submodules would run them for anyone importing one of them)."""
