"""The Microsoft Graph dialect, split by resource: ``routes`` dispatches, ``paths`` parses
addresses, ``addressing`` resolves them, ``items``, ``content`` and ``permissions`` serve each
resource, ``render`` shapes the JSON; ``odata`` parses query options, ``envelope`` adds the OData
annotations, ``relations`` serves ``$expand`` and ``ordering`` serves ``$orderby``.

Import from the submodules: this package re-exports nothing, so importing any one of them never
runs the others (a re-export here made ``api.invites`` → ``graph.render`` run ``routes``, which
imports ``api.invites`` back)."""
