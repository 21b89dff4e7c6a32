"""Constants shared by the command line and the layers below it, in a module that imports
nothing: ``mockdrive --help`` names them without loading the model."""

# The owner's token in the default state of ``mockdrive serve`` (``--token`` replaces it).
DEFAULT_TOKEN = "mockdrive-token"
