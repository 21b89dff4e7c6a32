"""Build step on top of pyproject.toml: ship the top-level ``fixtures/`` scenarios in the package.

``fixtures/`` stays the one source of the example scenarios. Building the wheel (directly, or
from the sdist, which carries ``fixtures/`` through MANIFEST.in) copies them to
``mockdrive/scenarios/``, where ``mockdrive.shipped`` finds them by name. Editable installs read
``fixtures/`` in place, so nothing is copied for them.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).parent / "fixtures"
SUFFIXES = (".yaml", ".yml", ".json")


class build_py_with_scenarios(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib, "mockdrive", "scenarios")
        self.mkpath(str(target))
        for path in sorted(SOURCE.iterdir()):
            if path.suffix in SUFFIXES:
                self.copy_file(str(path), str(target / path.name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        target = Path(self.build_lib, "mockdrive", "scenarios")
        return outputs + [str(target / p.name) for p in SOURCE.iterdir() if p.suffix in SUFFIXES]


setup(cmdclass={"build_py": build_py_with_scenarios})
